"""ERA enrollment records (Optum's `EnrollmentRoot`): validation that names the field path of
every problem and reports them all at once, the canonical form, and its fingerprint. Pure.

Optum's schema marks nothing required; the required fields here are the ones both the spec's
example and Optum's overview treat as the enrollment itself. NPI and TIN are integers in the
schema: an integer is accepted, and so is a string of digits (spaces and hyphens allowed, as
in "12-3456789"), normalised to the integer. Messages never quote a submitted value.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from receiver.enrollment.fields import (
    Field,
    FieldError,
    Problems,
    base64_field,
    choice,
    email,
    exactly,
    extension,
    matching,
    npi,
    obj,
    phone,
    positive_integer,
    text_field,
    tin,
    zip_code,
)
from receiver.errors import BadRequestError

REASONS = ("NEW_ENROLLMENT", "CHANGE_ENROLLMENT", "CANCEL_ENROLLMENT")
VERSION = 5010
MAX_RECORDS = 1000
_RESPONSE_ONLY = ("statuses", "errorMessages")  # what Optum adds to records it returns
_PAYER_ID = re.compile(r"[A-Z0-9-]{1,50}")
_STATE = re.compile(r"[A-Z]{2}")


class EnrollmentRecordsError(BadRequestError):
    """Records that cannot be submitted; `errors` holds every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        shown = "; ".join(str(error) for error in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"{len(errors)} problem(s) in the enrollment records: {shown}{more}")
        self.errors = tuple(errors)


def validate_records(value: object, *, max_records: int = MAX_RECORDS) -> list[FieldError]:
    """Every problem with a submission of enrollment records (a JSON array of objects),
    including records that equal an earlier one after normalising; [] when it can be sent."""
    return _check(value, max_records)[1]


def parse_records(value: object, *, max_records: int = MAX_RECORDS) -> list[dict[str, object]]:
    """The records in canonical form, ready to submit; EnrollmentRecordsError listing every
    problem otherwise."""
    records, errors = _check(value, max_records)
    if errors:
        raise EnrollmentRecordsError(errors)
    return records


def normalise_record(record: Mapping[str, object]) -> dict[str, object]:
    """The canonical form of a record: whitespace collapsed, emails lower-cased, phone and fax
    numbers digits only, NPI, TIN, epId and version integers, codes upper-case, empty optional
    fields left out. Total: a value that cannot be normalised is kept as it is, and fields
    Optum adds to returned records (`statuses`, `errorMessages`) are dropped."""
    trimmed = {key: value for key, value in record.items() if key not in _RESPONSE_ONLY}
    cleaned = _RECORD(Problems(), "record", trimmed)
    return cleaned if isinstance(cleaned, dict) else dict(trimmed)


def record_fingerprint(record: Mapping[str, object]) -> str:
    """The sha256 (hex) of the record's canonical JSON: records equal after normalising have
    the same fingerprint, whatever their key order, spacing or case of emails."""
    canonical = json.dumps(
        normalise_record(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check(value: object, max_records: int) -> tuple[list[dict[str, object]], list[FieldError]]:
    walk = Problems()
    if not isinstance(value, list):
        walk.fail("records", "must be an array of enrollment records")
        return [], walk.errors
    if not value:
        walk.fail("records", "must hold at least one record")
    if len(value) > max_records:
        walk.fail("records", f"must hold at most {max_records} records")
        return [], walk.errors
    records: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(value):
        path = f"records[{index}]"
        errors_before = len(walk.errors)
        cleaned = _RECORD(walk, path, item)
        if not isinstance(cleaned, dict):
            continue
        records.append(cleaned)
        if len(walk.errors) == errors_before:
            fingerprint = record_fingerprint(cleaned)
            if fingerprint in seen:
                walk.fail(path, f"is the same record as records[{seen[fingerprint]}]")
            seen.setdefault(fingerprint, index)
    return records, walk.errors


_ADDRESS = obj(
    {
        "street": Field(text_field),
        "city": Field(text_field),
        "stateProvince": Field(matching(_STATE, "must be a 2-letter state code", upper=True)),
        "zipCode": Field(zip_code),
    }
)
_CONTACT = obj(
    {
        "contactName": Field(text_field),
        "emailAddress": Field(email),
        "telephoneNumber": Field(phone),
        "telephoneNumberExtension": Field(extension, required=False),
        "faxNumber": Field(phone, required=False),
    }
)
_RECORD = obj(
    {
        "payerId": Field(matching(_PAYER_ID, "must be letters, digits or hyphens", upper=True)),
        "providerName": Field(text_field),
        "providerIdentifiers": Field(obj({"npi": Field(npi), "tinOrEin": Field(tin)})),
        "preferenceForAggregation": Field(
            obj(
                {"npi": Field(npi, required=False), "tin": Field(tin, required=False)},
                at_least_one=True,
            )
        ),
        "providerAddress": Field(_ADDRESS),
        "providerContact": Field(_CONTACT),
        "reasonForSubmission": Field(choice(REASONS)),
        "authorizedSignature": Field(text_field),
        "clearinghouseName": Field(text_field),
        "clearinghouseContactName": Field(text_field),
        "emailAddress": Field(email),
        "otherId": Field(text_field, required=False),
        "otherIdentifiers": Field(
            obj(
                {
                    "assigningAuthority": Field(text_field, required=False),
                    "tradingPartnerId": Field(text_field, required=False),
                }
            ),
            required=False,
        ),
        "version": Field(exactly(VERSION)),
        "epId": Field(positive_integer, required=False),
        "attachment1": Field(base64_field, required=False),
        "attachment2": Field(base64_field, required=False),
        "attachment3": Field(base64_field, required=False),
    }
)
