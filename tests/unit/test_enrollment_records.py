"""ERA enrollment records: every problem with its field path, messy inputs normalised, and
fingerprints equal for records equal after normalising."""

from __future__ import annotations

import copy
import json

import pytest

from receiver.enrollment.fields import is_valid_npi
from receiver.enrollment.records import (
    EnrollmentRecordsError,
    normalise_record,
    parse_records,
    record_fingerprint,
    validate_records,
)
from receiver.errors import BadRequestError
from tests.conftest import fixture_bytes

SUBMITTED = json.loads(fixture_bytes("optum/era-enrollment.submission.request.json"))
VALID = SUBMITTED[0]  # the fixture's second record carries the invalid NPI 1999999985


def record(**changes: object) -> dict[str, object]:
    """A copy of VALID with top-level `changes`."""
    return {**copy.deepcopy(VALID), **changes}


def messy() -> dict[str, object]:
    """VALID as a careless client sends it: numbers as strings, odd spacing and case."""
    return {
        "version": "5010",
        "reasonForSubmission": " new enrollment ",
        "providerName": "  Synthetic   Family Clinic ",
        "payerId": "syn87726",
        "providerIdentifiers": {"tinOrEin": "99-0000001", "npi": " 1999999984 "},
        "preferenceForAggregation": {"npi": "1999999984", "tin": 990000001},
        "providerAddress": {
            "zipCode": "55400",
            "street": "200  Sample Street",
            "city": "Anytown ",
            "stateProvince": "mn",
        },
        "providerContact": {
            "contactName": "Casey\tExample",
            "emailAddress": " Billing@Example.INVALID ",
            "telephoneNumber": "(555) 555-0101",
            "telephoneNumberExtension": "  ",
            "faxNumber": "+1 555.555.0102",
        },
        "authorizedSignature": "Pat Synthetic",
        "clearinghouseName": "Synthetic Clearinghouse LLC",
        "clearinghouseContactName": "Robin  Example",
        "emailAddress": "EDI-Enroll@example.invalid",
        "otherId": "SYNCH-0001",
        "otherIdentifiers": {"assigningAuthority": "OPTUM", "tradingPartnerId": "SYNTP001"},
    }


class TestValidRecords:
    def test_the_fixture_record_is_valid_and_unchanged_by_normalising(self) -> None:
        assert validate_records([VALID]) == []
        expected = copy.deepcopy(VALID)
        del expected["providerContact"]["telephoneNumberExtension"]  # an empty optional field
        assert parse_records([VALID]) == [expected]

    def test_a_messy_record_normalises_to_the_fixture(self) -> None:
        [parsed] = parse_records([messy()])
        assert parsed == normalise_record(VALID)
        assert record_fingerprint(messy()) == record_fingerprint(VALID)

    def test_normalising_is_idempotent(self) -> None:
        once = normalise_record(messy())
        assert normalise_record(once) == once

    def test_integers_stay_the_integers_the_schema_has(self) -> None:
        [parsed] = parse_records([messy()])
        assert parsed["providerIdentifiers"] == {"npi": 1999999984, "tinOrEin": 990000001}
        assert parsed["version"] == 5010

    def test_optional_fields_and_a_valid_attachment_are_accepted(self) -> None:
        extra = record(epId="42", attachment1="JVBERi0x\nLjcNCiW1")
        [parsed] = parse_records([extra])
        assert (parsed["epId"], parsed["attachment1"]) == (42, "JVBERi0xLjcNCiW1")

    def test_aggregation_by_tin_alone_is_accepted(self) -> None:
        assert validate_records([record(preferenceForAggregation={"tin": 990000001})]) == []


class TestProblems:
    def test_every_problem_is_reported_with_its_path(self) -> None:
        broken = record(
            providerIdentifiers={"npi": 1999999985, "tinOrEin": "12345678"},
            reasonForSubmission="RENEW",
            version=4010,
            providerContact={"contactName": "C", "emailAddress": "not-an-email"},
            providerAddress={
                "street": "1 St",
                "city": "X",
                "stateProvince": "Minnesota",
                "zipCode": "5540",
            },
            attachment2="not base64!",
            npi="stray",
        )
        del broken["payerId"]
        errors = {(e.path, e.message) for e in validate_records([VALID, broken])}
        assert errors == {
            (
                "records[1].providerIdentifiers.npi",
                "must be a 10-digit NPI with a valid check digit",
            ),
            ("records[1].providerIdentifiers.tinOrEin", "must be a 9-digit TIN or EIN"),
            (
                "records[1].reasonForSubmission",
                "must be one of NEW_ENROLLMENT, CHANGE_ENROLLMENT, CANCEL_ENROLLMENT",
            ),
            ("records[1].version", "must be 5010"),
            ("records[1].providerContact.emailAddress", "must be an email address"),
            ("records[1].providerContact.telephoneNumber", "is required"),
            ("records[1].providerAddress.stateProvince", "must be a 2-letter state code"),
            ("records[1].providerAddress.zipCode", "must be a 5- or 9-digit ZIP code"),
            ("records[1].attachment2", "must be a base64 string"),
            ("records[1].npi", "is not a field of this object"),
            ("records[1].payerId", "is required"),
        }

    def test_the_fixtures_rejected_record_fails_on_its_npis(self) -> None:
        paths = [error.path for error in validate_records(SUBMITTED)]
        assert paths == [
            "records[1].preferenceForAggregation.npi",
            "records[1].providerIdentifiers.npi",
        ]

    @pytest.mark.parametrize(
        "value", [True, 1999999984.0, "1999999984x", "１９９９９９９９８４", 199999998, -1999999984]
    )
    def test_an_npi_that_is_not_digits_or_an_integer_is_refused(self, value: object) -> None:
        errors = validate_records(
            [record(providerIdentifiers={"npi": value, "tinOrEin": 990000001})]
        )
        assert [e.path for e in errors] == ["records[0].providerIdentifiers.npi"]

    def test_blank_required_fields_count_as_missing(self) -> None:
        errors = validate_records([record(providerName="   ", clearinghouseName=None)])
        assert {(e.path, e.message) for e in errors} == {
            ("records[0].providerName", "is required"),
            ("records[0].clearinghouseName", "is required"),
        }

    def test_an_empty_aggregation_preference_is_refused(self) -> None:
        errors = validate_records([record(preferenceForAggregation={})])
        assert [str(e) for e in errors] == [
            "records[0].preferenceForAggregation: needs at least one of npi, tin"
        ]

    def test_a_record_equal_after_normalising_to_an_earlier_one_is_refused(self) -> None:
        errors = validate_records([VALID, messy()])
        assert [str(e) for e in errors] == ["records[1]: is the same record as records[0]"]

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ({"payerId": "X"}, "records: must be an array of enrollment records"),
            ([], "records: must hold at least one record"),
            (["x"], "records[0]: must be an object"),
        ],
    )
    def test_the_submission_shape(self, value: object, message: str) -> None:
        assert [str(e) for e in validate_records(value)] == [message]

    def test_too_many_records_are_refused_before_reading_them(self) -> None:
        errors = validate_records([VALID] * 3, max_records=2)
        assert [str(e) for e in errors] == ["records: must hold at most 2 records"]

    def test_messages_never_quote_the_submitted_value(self) -> None:
        broken = record(emailAddress="leak@", providerName=12345678901)
        with pytest.raises(EnrollmentRecordsError) as caught:
            parse_records([broken])
        assert isinstance(caught.value, BadRequestError)
        assert "leak" not in str(caught.value)
        assert "12345678901" not in str(caught.value)
        assert len(caught.value.errors) == 2


class TestFingerprint:
    def test_key_order_does_not_change_it(self) -> None:
        reordered = dict(reversed(list(VALID.items())))
        assert record_fingerprint(reordered) == record_fingerprint(VALID)

    def test_a_real_difference_changes_it(self) -> None:
        other = record(payerId="SYN87727")
        assert record_fingerprint(other) != record_fingerprint(VALID)

    def test_optums_response_fields_are_ignored(self) -> None:
        returned = record(statuses={"associationStatuses": []}, errorMessages="x")
        assert record_fingerprint(returned) == record_fingerprint(VALID)

    def test_it_is_a_sha256_hex_digest(self) -> None:
        fingerprint = record_fingerprint(VALID)
        assert len(fingerprint) == 64
        assert int(fingerprint, 16) >= 0


class TestNpi:
    @pytest.mark.parametrize(
        ("npi", "valid"),
        [
            ("1234567893", True),
            ("1999999984", True),
            ("1999999976", True),
            ("1999999985", False),
            ("1111111111", False),
            ("123456789", False),
            ("12345678930", False),
        ],
    )
    def test_the_check_digit(self, npi: str, valid: bool) -> None:
        assert is_valid_npi(npi) is valid
