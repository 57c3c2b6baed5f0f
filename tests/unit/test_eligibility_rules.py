"""The one set of eligibility request rules: every error at once, with paths, and a cleaned copy."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from receiver.eligibility.encounter import service_date_window
from receiver.eligibility.fields import Issue
from receiver.eligibility.rules import check_batch, check_request, is_valid_npi

FIXTURES = Path(__file__).parents[2] / "fixtures" / "stedi"
TODAY = date(2025, 3, 12)  # the fixture's dateOfService
REQUEST: dict[str, Any] = json.loads((FIXTURES / "eligibility-check.request.json").read_text())
DELETE = object()


def check(**fields: object) -> dict[str, Any]:
    """The fixture request with dotted-path fields set (or removed with DELETE)."""
    request = copy.deepcopy(REQUEST)
    for dotted, value in fields.items():
        *parents, name = dotted.split("__")
        target = request
        for parent in parents:
            target = target.setdefault(parent, {})
        if value is DELETE:
            target.pop(name, None)
        else:
            target[name] = value
    return request


def errors(request: object, today: date = TODAY) -> dict[str, str]:
    return {issue.path: issue.message for issue in check_request(request, today=today).errors}


def warnings(request: object, today: date = TODAY) -> dict[str, str]:
    return {issue.path: issue.message for issue in check_request(request, today=today).warnings}


class TestCheckRequest:
    def test_the_fixture_request_is_clean(self):
        result = check_request(REQUEST, today=TODAY)
        assert result.ok
        assert result.errors == ()
        assert result.warnings == ()
        assert result.request == REQUEST
        assert result.request is not REQUEST

    @pytest.mark.parametrize("value", [None, [], [REQUEST], "{}", 7, 1.5, True])
    def test_a_non_object_is_an_error_not_an_exception(self, value):
        result = check_request(value, today=TODAY)
        assert not result.ok
        assert [issue.path for issue in result.errors] == [""]
        assert result.request == {}

    def test_an_empty_object_reports_every_required_field_at_once(self):
        assert errors({}) == {
            "tradingPartnerServiceId": "is required (the payer ID)",
            "provider": "is required",
            "subscriber": "is required",
        }

    def test_every_error_comes_in_one_answer(self):
        request = check(
            controlNumber="12x",
            provider__npi="1999999985",
            subscriber__dateOfBirth="19800230",
            subscriber__gender="X",
            encounter__serviceTypeCodes=["30", "QQ"],
            encounter__endDateOfService="20250301",
            portalUsername="u" * 51,
        )
        assert set(errors(request)) == {
            "controlNumber",
            "provider.npi",
            "subscriber.dateOfBirth",
            "subscriber.gender",
            "encounter.serviceTypeCodes[1]",
            "encounter.dateOfService",
            "encounter.beginningDateOfService",
            "portalUsername",
        }

    def test_the_input_is_never_mutated(self):
        messy = check(
            controlNumber="42",
            tradingPartnerServiceId="  SYNPAYER01 ",
            subscriber__lastName="O`TESTPATIENT",
            subscriber__gender="f",
            subscriber__middleName="",
            encounter__serviceTypeCodes=[" mh "],
            dependents=[],
        )
        before = copy.deepcopy(messy)
        result = check_request(messy, today=TODAY)
        assert messy == before
        assert result.request["subscriber"]["lastName"] == "O'TESTPATIENT"
        assert result.request["encounter"]["serviceTypeCodes"] == ["MH"]

    def test_strings_are_trimmed_and_empty_or_null_fields_dropped(self):
        result = check_request(
            check(
                tradingPartnerServiceId=" SYNPAYER01\t",
                subscriber__memberId=" ZZT000123401 ",
                subscriber__middleName="   ",
                subscriber__suffix=None,
                externalPatientId="",
            ),
            today=TODAY,
        )
        assert result.ok, result.errors
        assert result.request["tradingPartnerServiceId"] == "SYNPAYER01"
        assert result.request["subscriber"] == REQUEST["subscriber"]
        assert "externalPatientId" not in result.request

    @pytest.mark.parametrize("depth", [17, 5000])
    def test_deep_nesting_is_an_error_not_a_recursion_error(self, depth):
        nested: object = "x"
        for _ in range(depth - 1):
            nested = [nested]
        result = check_request(check(subscriber__address=nested), today=TODAY)
        assert [str(issue) for issue in result.errors] == [
            "nests objects and lists more than 16 levels deep"
        ]

    def test_sixteen_levels_are_allowed(self):
        nested: object = {"leaf": "x"}
        for _ in range(13):
            nested = {"n": nested}
        assert errors(check(subscriber__address=nested)) == {}

    def test_unknown_fields_pass_through(self):
        request = check(subscriber__address={"address1": "1 MAIN ST", "city": "SPRINGFIELD"})
        result = check_request(request, today=TODAY)
        assert result.ok
        assert result.request["subscriber"]["address"] == {
            "address1": "1 MAIN ST",
            "city": "SPRINGFIELD",
        }

    def test_no_message_echoes_a_value(self):
        secret = "Zq9Secret"
        request = check(
            controlNumber=secret,
            tradingPartnerServiceId=secret * 10,
            provider__npi=secret,
            provider__taxId=secret,
            subscriber__memberId=secret + "_",
            subscriber__dateOfBirth=secret,
            subscriber__gender=secret,
            subscriber__firstName=secret * 5,
            encounter__serviceTypeCodes=[secret],
            portalPassword=secret * 6,
        )
        result = check_request(request, today=TODAY)
        assert len(result.errors) >= 9
        for issue in (*result.errors, *result.warnings):
            assert secret not in str(issue)


class TestControlNumber:
    @pytest.mark.parametrize(("given", "sent"), [("1", "000000001"), ("12345", "000012345")])
    def test_a_short_one_is_padded_with_a_warning(self, given, sent):
        result = check_request(check(controlNumber=given), today=TODAY)
        assert result.ok
        assert result.request["controlNumber"] == sent
        assert warnings(check(controlNumber=given)) == {
            "controlNumber": "was padded with leading zeros to 9 digits"
        }

    def test_nine_digits_pass_unchanged(self):
        result = check_request(check(controlNumber="123456789"), today=TODAY)
        assert (result.errors, result.warnings) == ((), ())
        assert result.request["controlNumber"] == "123456789"

    @pytest.mark.parametrize("value", ["1234567890", "12a", "-1", "1 2", "١٢٣", "１２"])
    def test_anything_but_1_to_9_ascii_digits_is_an_error(self, value):
        assert errors(check(controlNumber=value)) == {"controlNumber": "must be 1 to 9 digits"}

    def test_a_number_is_a_type_error(self):
        assert errors(check(controlNumber=123)) == {
            "controlNumber": "must be a string, not a number"
        }


class TestEnvelope:
    @pytest.mark.parametrize("value", [DELETE, "", "   ", None])
    def test_the_payer_id_is_required(self, value):
        assert errors(check(tradingPartnerServiceId=value)) == {
            "tradingPartnerServiceId": "is required (the payer ID)"
        }

    def test_the_payer_id_is_at_most_80_characters(self):
        assert errors(check(tradingPartnerServiceId="P" * 80)) == {}
        assert errors(check(tradingPartnerServiceId="P" * 81)) == {
            "tradingPartnerServiceId": "must be 1 to 80 characters"
        }

    def test_a_numeric_payer_id_is_a_type_error(self):
        assert errors(check(tradingPartnerServiceId=87726)) == {
            "tradingPartnerServiceId": "must be a string, not a number"
        }

    @pytest.mark.parametrize("name", ["portalUsername", "portalPassword"])
    def test_portal_credentials_are_1_to_50_characters(self, name):
        assert errors(check(**{name: "c" * 50})) == {}
        assert errors(check(**{name: "c" * 51})) == {name: "must be 1 to 50 characters"}

    def test_an_empty_password_is_an_error_not_dropped(self):
        assert errors(check(portalPassword="")) == {"portalPassword": "must be 1 to 50 characters"}

    def test_the_password_keeps_its_spaces(self):
        result = check_request(check(portalPassword=" pin 42 "), today=TODAY)
        assert result.ok
        assert result.request["portalPassword"] == " pin 42 "

    def test_a_bad_password_character_is_not_named(self):
        found = errors(check(portalPassword="pïn~"))
        assert found == {"portalPassword": "contains a character outside the X12 character sets"}

    def test_a_submitter_id_is_at_most_50_characters(self):
        assert errors(check(submitterTransactionIdentifier="S" * 51)) == {
            "submitterTransactionIdentifier": "must be 1 to 50 characters"
        }


class TestProvider:
    @pytest.mark.parametrize(
        "provider",
        [
            {"organizationName": "SYNTHETIC FAMILY CLINIC", "npi": "1999999984"},
            {"firstName": "PAT", "lastName": "DOCTOR", "npi": "1999999976"},
            {"organizationName": "SYNTHETIC FAMILY CLINIC", "taxId": "990000001"},
            {"organizationName": "SYNTHETIC FAMILY CLINIC", "ssn": "990000002"},
        ],
    )
    def test_a_name_and_an_identifier_suffice(self, provider):
        assert errors(check(provider=provider)) == {}

    @pytest.mark.parametrize(
        ("names", "path", "message"),
        [
            ({}, "provider.organizationName", "is required, or provider.firstName and lastName"),
            ({"firstName": "PAT"}, "provider.lastName", "is required with provider.firstName"),
            ({"lastName": "DOCTOR"}, "provider.firstName", "is required with provider.lastName"),
        ],
    )
    def test_a_name_is_required(self, names, path, message):
        assert errors(check(provider={"npi": "1999999984", **names})) == {path: message}

    def test_an_identifier_is_required(self):
        assert errors(check(provider={"organizationName": "SYNTHETIC FAMILY CLINIC"})) == {
            "provider": "needs an identifier: npi, taxId or ssn"
        }

    @pytest.mark.parametrize(
        "npi", ["1999999985", "199999998", "19999999840", "l999999984", "１９９９９９９９８４", "0"]
    )
    def test_a_bad_npi_is_an_error(self, npi):
        assert errors(check(provider__npi=npi)) == {
            "provider.npi": "must be 10 digits ending in a valid NPI check digit"
        }

    @pytest.mark.parametrize("name", ["taxId", "ssn"])
    @pytest.mark.parametrize("value", ["99000000", "9900000011", "99-0000001"])
    def test_tax_id_and_ssn_are_9_digits(self, name, value):
        assert errors(check(**{f"provider__{name}": value})) == {
            f"provider.{name}": "must be 9 digits"
        }

    @pytest.mark.parametrize(("value", "kind"), [("clinic", "a string"), (["x"], "a list")])
    def test_a_provider_that_is_not_an_object_is_an_error(self, value, kind):
        assert errors(check(provider=value)) == {"provider": f"must be an object, not {kind}"}

    def test_numbers_for_strings_are_type_errors(self):
        found = errors(check(provider={"organizationName": 12, "npi": 1999999984}))
        assert found == {
            "provider.organizationName": "must be a string, not a number",
            "provider.npi": "must be a string, not a number",
        }

    def test_names_have_stedis_lengths(self):
        found = errors(
            check(provider={"firstName": "F" * 36, "lastName": "L" * 61, "npi": "1999999984"})
        )
        assert found == {
            "provider.firstName": "must be 1 to 35 characters",
            "provider.lastName": "must be 1 to 60 characters",
        }
        assert errors(check(provider__organizationName="O" * 61)) == {
            "provider.organizationName": "must be 1 to 60 characters"
        }


class TestIsValidNpi:
    @pytest.mark.parametrize("npi", ["1999999984", "1999999976", "1234567893"])
    def test_valid(self, npi):
        assert is_valid_npi(npi)

    @pytest.mark.parametrize("npi", ["1999999985", "1234567890", "", "123456789a"])
    def test_invalid(self, npi):
        assert not is_valid_npi(npi)


class TestSubscriber:
    @pytest.mark.parametrize("kept", ["memberId", "dateOfBirth", "lastName"])
    def test_one_of_member_id_date_of_birth_or_last_name_suffices(self, kept):
        subscriber = {kept: REQUEST["subscriber"][kept]}
        assert errors(check(subscriber=subscriber)) == {}

    def test_a_first_name_alone_does_not(self):
        assert errors(check(subscriber={"firstName": "ALEX"})) == {
            "subscriber": "needs at least one of memberId, dateOfBirth or lastName"
        }

    @pytest.mark.parametrize("member_id", ["ZZ", "ZZT-0001 23", "zzt0001", "9" * 80])
    def test_member_ids_of_letters_digits_spaces_and_hyphens(self, member_id):
        assert errors(check(subscriber__memberId=member_id)) == {}

    @pytest.mark.parametrize("member_id", ["Z", "ZZT_0001", "ZZT/1", "9" * 81])
    def test_other_member_ids_are_errors(self, member_id):
        assert errors(check(subscriber__memberId=member_id)) == {
            "subscriber.memberId": "must be 2 to 80 letters, digits, spaces or hyphens"
        }

    @pytest.mark.parametrize(
        "value", ["19800230", "19000229", "1980-01-01", "198001011", "8001", "abcdefgh", "19801301"]
    )
    def test_a_date_of_birth_must_be_a_real_yyyymmdd_date(self, value):
        assert errors(check(subscriber__dateOfBirth=value)) == {
            "subscriber.dateOfBirth": "must be a real date written YYYYMMDD"
        }

    def test_a_leap_day_is_a_real_date(self):
        assert errors(check(subscriber__dateOfBirth="20000229")) == {}

    def test_gender_is_upper_cased_and_must_be_m_or_f(self):
        result = check_request(check(subscriber__gender=" f "), today=TODAY)
        assert result.ok
        assert result.request["subscriber"]["gender"] == "F"
        assert errors(check(subscriber__gender="U")) == {"subscriber.gender": "must be M or F"}

    @pytest.mark.parametrize("name", ["firstName", "lastName"])
    def test_backticks_in_names_become_apostrophes_with_a_warning(self, name):
        request = check(**{f"subscriber__{name}": "O`CONNOR`S"})
        result = check_request(request, today=TODAY)
        assert result.ok
        assert result.request["subscriber"][name] == "O'CONNOR'S"
        assert [str(issue) for issue in result.warnings] == [
            f"subscriber.{name}: backticks were replaced with apostrophes"
        ]

    def test_a_backtick_in_the_middle_name_is_refused(self):
        assert list(errors(check(subscriber__middleName="J`R"))) == ["subscriber.middleName"]

    def test_names_have_stedis_lengths(self):
        found = errors(
            check(
                subscriber__firstName="F" * 36,
                subscriber__lastName="L" * 61,
                subscriber__middleName="M" * 26,
            )
        )
        assert found == {
            "subscriber.firstName": "must be 1 to 35 characters",
            "subscriber.lastName": "must be 1 to 60 characters",
            "subscriber.middleName": "must be 1 to 25 characters",
        }

    def test_a_subscriber_that_is_not_an_object_is_an_error(self):
        assert errors(check(subscriber=["ALEX"])) == {"subscriber": "must be an object, not a list"}


class TestDependents:
    DEPENDENT: dict[str, str] = {
        "firstName": "SAM",
        "lastName": "TESTPATIENT",
        "dateOfBirth": "20150704",
    }

    def test_one_dependent_passes(self):
        assert errors(check(dependents=[self.DEPENDENT])) == {}

    def test_more_than_one_is_an_error(self):
        assert errors(check(dependents=[self.DEPENDENT, self.DEPENDENT])) == {
            "dependents": "holds 2 dependents; at most 1 per check"
        }

    def test_an_empty_list_is_dropped(self):
        result = check_request(check(dependents=[]), today=TODAY)
        assert result.ok
        assert "dependents" not in result.request

    @pytest.mark.parametrize(
        ("value", "path", "message"),
        [
            ({"firstName": "SAM"}, "dependents", "must be a list, not an object"),
            (["SAM"], "dependents[0]", "must be an object, not a string"),
            ([None], "dependents[0]", "must be an object, not null"),
        ],
    )
    def test_wrong_shapes_are_errors(self, value, path, message):
        assert errors(check(dependents=value)) == {path: message}

    def test_dependent_fields_follow_the_person_rules(self):
        dependent = {"firstName": "SAM", "lastName": "O`TESTPATIENT", "dateOfBirth": "20150231"}
        result = check_request(check(dependents=[dependent]), today=TODAY)
        assert [str(issue) for issue in result.errors] == [
            "dependents[0].dateOfBirth: must be a real date written YYYYMMDD"
        ]
        assert [str(issue) for issue in result.warnings] == [
            "dependents[0].lastName: backticks were replaced with apostrophes"
        ]
        assert result.request["dependents"][0]["lastName"] == "O'TESTPATIENT"


class TestServiceDates:
    def test_a_begin_and_end_pair_passes(self):
        request = check(
            encounter={"beginningDateOfService": "20250301", "endDateOfService": "20250301"}
        )
        assert errors(request) == {}

    @pytest.mark.parametrize(
        ("given", "missing"),
        [
            ("beginningDateOfService", "endDateOfService"),
            ("endDateOfService", "beginningDateOfService"),
        ],
    )
    def test_half_a_pair_is_an_error(self, given, missing):
        assert errors(check(encounter={given: "20250301"})) == {
            f"encounter.{missing}": f"is required with encounter.{given}"
        }

    def test_begin_after_end_is_an_error(self):
        request = check(
            encounter={"beginningDateOfService": "20250302", "endDateOfService": "20250301"}
        )
        assert errors(request) == {
            "encounter.endDateOfService": "must not be before beginningDateOfService"
        }

    def test_a_single_date_and_a_pair_together_is_an_error(self):
        request = check(
            encounter__beginningDateOfService="20250301", encounter__endDateOfService="20250302"
        )
        assert errors(request) == {
            "encounter.dateOfService": (
                "give either dateOfService or beginningDateOfService and endDateOfService, not both"
            )
        }

    @pytest.mark.parametrize("name", ["dateOfService", "beginningDateOfService"])
    @pytest.mark.parametrize("value", ["20250230", "2025-03-01", "202503011", 20250301])
    def test_service_dates_must_be_real_dates(self, name, value):
        found = errors(
            check(encounter={name: value, "endDateOfService": "20250310"})
            if name != "dateOfService"
            else check(encounter__dateOfService=value)
        )
        assert list(found) == [f"encounter.{name}"]

    @pytest.mark.parametrize(
        ("value", "warned"),
        [
            ("20240312", False),
            ("20240311", True),
            ("20250312", False),
            ("20250331", False),
            ("20250401", True),
            ("19990101", True),
        ],
    )
    def test_dates_outside_the_payer_window_are_a_warning(self, value, warned):
        result = check_request(check(encounter__dateOfService=value), today=TODAY)
        assert result.ok
        assert [issue.path for issue in result.warnings] == (
            ["encounter.dateOfService"] if warned else []
        )

    def test_each_end_of_a_pair_is_checked_against_the_window(self):
        request = check(
            encounter={"beginningDateOfService": "20240201", "endDateOfService": "20250415"}
        )
        assert set(warnings(request)) == {
            "encounter.beginningDateOfService",
            "encounter.endDateOfService",
        }

    def test_the_warning_names_the_window(self):
        assert warnings(check(encounter__dateOfService="20250401")) == {
            "encounter.dateOfService": (
                "is outside 20240312-20250331, the 12 months back to the end of this month "
                "that payers must support"
            )
        }


class TestServiceDateWindow:
    @pytest.mark.parametrize(
        ("today", "window"),
        [
            (date(2025, 3, 12), (date(2024, 3, 12), date(2025, 3, 31))),
            (date(2024, 2, 29), (date(2023, 2, 28), date(2024, 2, 29))),
            (date(2025, 2, 1), (date(2024, 2, 1), date(2025, 2, 28))),
            (date(2025, 12, 31), (date(2024, 12, 31), date(2025, 12, 31))),
        ],
    )
    def test_twelve_months_back_to_the_end_of_the_month(self, today, window):
        assert service_date_window(today) == window


class TestServiceTypeCodes:
    def test_codes_are_trimmed_and_upper_cased(self):
        result = check_request(check(encounter__serviceTypeCodes=[" mh "]), today=TODAY)
        assert result.ok
        assert result.request["encounter"]["serviceTypeCodes"] == ["MH"]

    def test_more_than_one_code_is_a_warning(self):
        result = check_request(check(encounter__serviceTypeCodes=["30", "al"]), today=TODAY)
        assert result.ok
        assert [str(issue) for issue in result.warnings] == [
            "encounter.serviceTypeCodes: holds more than one code; not all payers support that"
        ]

    @pytest.mark.parametrize("code", ["29", "31", "0", "100", "ZZ", "A", "AP", "BO"])
    def test_unknown_codes_are_errors(self, code):
        assert errors(check(encounter__serviceTypeCodes=["30", code])) == {
            "encounter.serviceTypeCodes[1]": "is not an X12 005010 service type code"
        }

    @pytest.mark.parametrize("code", ["1", "28", "30", "99", "A0", "AR", "BZ", "CQ", "UC", "ON"])
    def test_known_codes_pass(self, code):
        assert errors(check(encounter__serviceTypeCodes=[code])) == {}

    @pytest.mark.parametrize(
        ("value", "path", "message"),
        [
            ("30", "encounter.serviceTypeCodes", "must be a list of codes, not a string"),
            ([30], "encounter.serviceTypeCodes[0]", "must be a string, not a number"),
            ([["30"]], "encounter.serviceTypeCodes[0]", "must be a string, not a list"),
        ],
    )
    def test_wrong_types_are_errors(self, value, path, message):
        assert errors(check(encounter__serviceTypeCodes=value)) == {path: message}

    def test_at_most_99_codes(self):
        assert errors(check(encounter__serviceTypeCodes=["30"] * 99)) == {}
        assert errors(check(encounter__serviceTypeCodes=["30"] * 100)) == {
            "encounter.serviceTypeCodes": "holds 100 codes; at most 99"
        }

    def test_an_empty_list_is_dropped(self):
        result = check_request(check(encounter__serviceTypeCodes=[]), today=TODAY)
        assert result.ok
        assert "serviceTypeCodes" not in result.request["encounter"]

    def test_an_encounter_that_is_not_an_object_is_an_error(self):
        assert errors(check(encounter="30")) == {"encounter": "must be an object, not a string"}


class TestCharacters:
    @pytest.mark.parametrize("delimiter", ["~", "*", ":", "^"])
    def test_x12_delimiters_are_refused(self, delimiter):
        assert errors(check(provider__organizationName=f"CLINIC {delimiter} WEST")) == {
            "provider.organizationName": (
                f"contains '{delimiter}' (an X12 delimiter): not allowed in X12"
            )
        }

    def test_the_basic_and_extended_sets_pass(self):
        request = check(
            provider__organizationName="A-Z 0-9 !\"&'()+,-./;?=",
            subscriber__address={"address1": "lower %@[]_{}\\|<>#$", "city": "abc"},
        )
        assert errors(request) == {}

    @pytest.mark.parametrize(
        ("text", "described"),
        [
            ("PEÑA", "'Ñ' (U+00D1)"),
            ("JOSÉ ÉLAN", "'É' (U+00C9)"),
            ("TAB\tHERE", "U+0009"),
            ("LINE\nBREAK", "U+000A"),
            ("QUOTE’S", "'’' (U+2019)"),
            ("CLINIC`S", "'`' (U+0060)"),
        ],
    )
    def test_characters_outside_the_sets_are_refused(self, text, described):
        assert errors(check(provider__organizationName=text)) == {
            "provider.organizationName": f"contains {described}: not allowed in X12"
        }

    def test_several_bad_characters_are_listed_once_each(self):
        found = errors(check(provider__organizationName="~ñ~ñ*éüöäß"))
        assert found["provider.organizationName"] == (
            "contains '~' (an X12 delimiter), 'ñ' (U+00F1), '*' (an X12 delimiter), "
            "'é' (U+00E9), 'ü' (U+00FC) and 3 more: not allowed in X12"
        )

    def test_unknown_nested_fields_and_lists_are_checked_too(self):
        request = check(
            subscriber__address={"address1": "1 MAIN ST*", "city": "X"},
            encounter__procedureModifiers=["25", "5^9"],
        )
        assert set(errors(request)) == {
            "subscriber.address.address1",
            "encounter.procedureModifiers[1]",
        }

    def test_a_field_already_in_error_is_reported_once(self):
        assert errors(check(provider__npi="1999*99984")) == {
            "provider.npi": "must be 10 digits ending in a valid NPI check digit"
        }


class TestCheckBatch:
    def item(self, sti: str, **fields: object) -> dict[str, Any]:
        return check(submitterTransactionIdentifier=sti, **fields)

    def test_valid_items_are_cleaned_in_order(self):
        result = check_batch([self.item("A", subscriber__gender="m"), self.item("B")], today=TODAY)
        assert result.ok
        assert [item["submitterTransactionIdentifier"] for item in result.items] == ["A", "B"]
        assert result.items[0]["subscriber"]["gender"] == "M"

    @pytest.mark.parametrize(
        ("items", "message"),
        [
            ({"items": []}, "must be a list of checks, not an object"),
            (None, "must be a list of checks, not null"),
            ([], "must hold at least one check"),
        ],
    )
    def test_the_items_must_be_a_non_empty_list(self, items, message):
        result = check_batch(items, today=TODAY)
        assert result.errors == (Issue("items", message),)
        assert result.items == ()

    def test_too_many_items_are_refused_before_any_is_checked(self):
        result = check_batch([None] * 4, today=TODAY, max_items=3)
        assert result.errors == (Issue("items", "holds 4 checks; at most 3 per submission"),)

    def test_paths_are_prefixed_with_the_item_index(self):
        result = check_batch(
            [
                self.item("A"),
                self.item("B", provider__npi="1999999985", subscriber__lastName="O`X"),
                7,
                self.item("D", encounter__serviceTypeCodes=["30", "mh"]),
            ],
            today=TODAY,
        )
        assert [str(issue) for issue in result.errors] == [
            "items[1].provider.npi: must be 10 digits ending in a valid NPI check digit",
            "items[2]: must be a JSON object, not a number",
        ]
        assert [issue.path for issue in result.warnings] == [
            "items[1].subscriber.lastName",
            "items[3].encounter.serviceTypeCodes",
        ]
        assert len(result.items) == 4

    def test_the_submitter_id_is_required_on_each_item(self):
        result = check_batch([self.item("A"), check()], today=TODAY)
        assert result.errors == (
            Issue("items[1].submitterTransactionIdentifier", "is required on each batch item"),
        )

    def test_a_duplicate_submitter_id_names_both_items(self):
        result = check_batch(
            [self.item("A"), self.item("B"), self.item(" A "), self.item("A")], today=TODAY
        )
        assert [str(issue) for issue in result.errors] == [
            "items[2].submitterTransactionIdentifier: "
            "duplicates items[0].submitterTransactionIdentifier",
            "items[3].submitterTransactionIdentifier: "
            "duplicates items[0].submitterTransactionIdentifier",
        ]

    def test_a_mistyped_submitter_id_is_one_type_error(self):
        result = check_batch([self.item("A"), check(submitterTransactionIdentifier=1)], today=TODAY)
        assert [str(issue) for issue in result.errors] == [
            "items[1].submitterTransactionIdentifier: must be a string, not a number"
        ]
