"""The one set of request rules for Stedi eligibility checks, shared by the real-time and batch
paths: every error in one answer, each with its field path, and a cleaned copy of the request.

Cleaning (the input is never mutated): strings are stripped of surrounding whitespace (except
`portalPassword`, whose spaces may be part of it); empty strings and nulls inside objects are
dropped, as is an empty `dependents` or `encounter.serviceTypeCodes` list; service type codes
and genders are upper-cased; a short `controlNumber` is zero-padded to Stedi's 9 digits (with
a warning); backticks in subscriber and dependent first and last names become `'` (with a
warning), as Stedi itself would do.

Messages name the field and the rule, never the value: requests carry PHI and secrets.
The encounter's rules live in `encounter`, the typed field reads in `fields`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from receiver.eligibility.encounter import check_encounter
from receiver.eligibility.fields import (
    Issue,
    JsonObject,
    Report,
    is_digits,
    join,
    kind,
    read_date,
    read_object,
    read_string,
    read_text,
)
from receiver.eligibility.x12text import (
    describe_characters,
    disallowed_characters,
)

MAX_BATCH_ITEMS = 10_000  # Stedi's own limit for one batch-eligibility submission
# Stedi's request objects nest four levels deep; the bound keeps the recursive walks below far
# from Python's recursion limit whatever a client sends.
MAX_DEPTH = 16
_MEMBER_ID = re.compile(r"[A-Za-z0-9\- ]+")
_NPI_PREFIX = "80840"  # ISO 7812 issuer prefix for US health identifiers, used by the NPI check
_PASSWORD = "portalPassword"  # noqa: S105 - the field's name, not a secret


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The cleaned request, and every error and warning found in it."""

    request: JsonObject
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        """True when the request may be sent to Stedi."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The cleaned batch items, and every error and warning, with paths under `items[i]`."""

    items: tuple[JsonObject, ...]
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        """True when the whole submission may be sent to Stedi (one bad item fails them all)."""
        return not self.errors


def check_request(check: object, *, today: date) -> CheckResult:
    """Apply every rule to one decoded eligibility check; `today` anchors the service-date
    window. Never raises on bad input: wrong types are errors with their path."""
    report = Report()
    if not isinstance(check, dict):
        report.error("", f"must be a JSON object, not {kind(check)}")
        return CheckResult({}, tuple(report.errors), ())
    if _depth_exceeds(check, MAX_DEPTH):
        report.error("", f"nests objects and lists more than {MAX_DEPTH} levels deep")
        return CheckResult({}, tuple(report.errors), ())
    request = _cleaned_object(check, "")
    _check_envelope(request, report)
    _check_provider(request, report)
    _check_subscriber(request, report)
    _check_dependents(request, report)
    check_encounter(request, report, today)
    _check_characters(request, "", report, {issue.path for issue in report.errors})
    return CheckResult(request, tuple(report.errors), tuple(report.warnings))


def check_batch(items: object, *, today: date, max_items: int = MAX_BATCH_ITEMS) -> BatchResult:
    """Apply `check_request` to each batch item, prefixing paths with `items[i]`, and require a
    `submitterTransactionIdentifier` on each item, unique within the submission."""
    report = Report()
    if not isinstance(items, list):
        report.error("items", f"must be a list of checks, not {kind(items)}")
    elif not items:
        report.error("items", "must hold at least one check")
    elif len(items) > max_items:
        report.error("items", f"holds {len(items)} checks; at most {max_items} per submission")
    if report.errors or not isinstance(items, list):
        return BatchResult((), tuple(report.errors), ())
    cleaned: list[JsonObject] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        prefix = f"items[{index}]"
        result = check_request(item, today=today)
        report.errors.extend(_prefixed(prefix, issue) for issue in result.errors)
        report.warnings.extend(_prefixed(prefix, issue) for issue in result.warnings)
        cleaned.append(result.request)
        if isinstance(item, dict):
            _check_submitter_id(result.request, index, first_index, report)
    return BatchResult(tuple(cleaned), tuple(report.errors), tuple(report.warnings))


def is_valid_npi(npi: str) -> bool:
    """True for 10 ASCII digits whose last is the Luhn check digit of `80840` + the first 9."""
    if not is_digits(npi, 10, 10):
        return False
    total = 0
    for position, char in enumerate(reversed(_NPI_PREFIX + npi[:9])):
        digit = int(char)
        if position % 2 == 0:  # double every second digit, starting next to the check digit
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


def _prefixed(prefix: str, issue: Issue) -> Issue:
    return Issue(f"{prefix}.{issue.path}" if issue.path else prefix, issue.message)


def _check_submitter_id(
    request: JsonObject, index: int, first_index: dict[str, int], report: Report
) -> None:
    path = f"items[{index}].submitterTransactionIdentifier"
    value = request.get("submitterTransactionIdentifier")
    if value is None:
        report.error(path, "is required on each batch item")
    elif isinstance(value, str):
        if value in first_index:
            report.error(
                path, f"duplicates items[{first_index[value]}].submitterTransactionIdentifier"
            )
        else:
            first_index[value] = index


def _depth_exceeds(check: JsonObject, limit: int) -> bool:
    """Whether objects and lists nest deeper than `limit`, found without recursion."""
    stack: list[tuple[JsonObject | list[object], int]] = [(check, 1)]
    while stack:
        current, depth = stack.pop()
        for child in current.values() if isinstance(current, dict) else current:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _cleaned_object(source: dict[object, object], path: str) -> JsonObject:
    cleaned: JsonObject = {}
    for key, value in source.items():
        name = str(key)
        child_path = join(path, name)
        child = _cleaned(value, child_path)
        if child is None or (child == "" and child_path != _PASSWORD):
            continue
        cleaned[name] = child
    return cleaned


def _cleaned(value: object, path: str) -> object:
    if isinstance(value, str):
        return value if path == _PASSWORD else value.strip()
    if isinstance(value, dict):
        return _cleaned_object(value, path)
    if isinstance(value, list):
        return [_cleaned(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def _check_envelope(request: JsonObject, report: Report) -> None:
    control = read_string(request, "controlNumber", "", report)
    if control is not None:
        if not is_digits(control, 1, 9):
            report.error("controlNumber", "must be 1 to 9 digits")
        elif len(control) < 9:
            request["controlNumber"] = control.zfill(9)
            report.warn("controlNumber", "was padded with leading zeros to 9 digits")
    if "tradingPartnerServiceId" not in request:
        report.error("tradingPartnerServiceId", "is required (the payer ID)")
    for name, top in (
        ("tradingPartnerServiceId", 80),
        ("submitterTransactionIdentifier", 50),
        ("portalUsername", 50),
        (_PASSWORD, 50),
    ):
        read_text(request, name, "", report, top)


def _check_provider(request: JsonObject, report: Report) -> None:
    provider = read_object(request, "provider", "", report, required=True)
    if provider is None:
        return
    for name, top in (("organizationName", 60), ("firstName", 35), ("lastName", 60)):
        read_text(provider, name, "provider", report, top)
    first, last = "firstName" in provider, "lastName" in provider
    if "organizationName" not in provider and not (first and last):
        if first or last:
            missing, given = ("lastName", "firstName") if first else ("firstName", "lastName")
            report.error(f"provider.{missing}", f"is required with provider.{given}")
        else:
            report.error(
                "provider.organizationName", "is required, or provider.firstName and lastName"
            )
    if not any(key in provider for key in ("npi", "taxId", "ssn")):
        report.error("provider", "needs an identifier: npi, taxId or ssn")
    npi = read_string(provider, "npi", "provider", report)
    if npi is not None and not is_valid_npi(npi):
        report.error("provider.npi", "must be 10 digits ending in a valid NPI check digit")
    for name in ("taxId", "ssn"):
        value = read_string(provider, name, "provider", report)
        if value is not None and not is_digits(value, 9, 9):
            report.error(f"provider.{name}", "must be 9 digits")


def _check_subscriber(request: JsonObject, report: Report) -> None:
    subscriber = read_object(request, "subscriber", "", report, required=True)
    if subscriber is None:
        return
    if not any(key in subscriber for key in ("memberId", "dateOfBirth", "lastName")):
        report.error("subscriber", "needs at least one of memberId, dateOfBirth or lastName")
    member_id = read_string(subscriber, "memberId", "subscriber", report)
    if member_id is not None and not (
        2 <= len(member_id) <= 80 and _MEMBER_ID.fullmatch(member_id)
    ):
        report.error("subscriber.memberId", "must be 2 to 80 letters, digits, spaces or hyphens")
    _check_person(subscriber, "subscriber", report)


def _check_dependents(request: JsonObject, report: Report) -> None:
    dependents = request.get("dependents")
    if dependents is None:
        return
    if not isinstance(dependents, list):
        report.error("dependents", f"must be a list, not {kind(dependents)}")
        return
    if not dependents:
        del request["dependents"]
        return
    if len(dependents) > 1:
        report.error("dependents", f"holds {len(dependents)} dependents; at most 1 per check")
    for index, dependent in enumerate(dependents):
        path = f"dependents[{index}]"
        if isinstance(dependent, dict):
            _check_person(dependent, path, report)
        else:
            report.error(path, f"must be an object, not {kind(dependent)}")


def _check_person(person: JsonObject, path: str, report: Report) -> None:
    """Names, date of birth and gender, shared by the subscriber and a dependent."""
    for name, top in (("firstName", 35), ("lastName", 60), ("middleName", 25)):
        value = read_text(person, name, path, report, top)
        if value is not None and "`" in value and name != "middleName":
            person[name] = value.replace("`", "'")
            report.warn(join(path, name), "backticks were replaced with apostrophes")
    read_date(person, "dateOfBirth", path, report)
    gender = read_string(person, "gender", path, report)
    if gender is not None:
        person["gender"] = gender = gender.upper()
        if gender not in ("M", "F"):
            report.error(join(path, "gender"), "must be M or F")


def _check_characters(value: object, path: str, report: Report, skip: set[str]) -> None:
    """Refuse X12 delimiters and anything outside the basic and extended sets, in every string
    of the request (skipping fields already in error, so one mistake is reported once)."""
    if isinstance(value, dict):
        for key, child in value.items():
            _check_characters(child, join(path, key), report, skip)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _check_characters(child, f"{path}[{index}]", report, skip)
    elif isinstance(value, str) and path not in skip:
        bad = disallowed_characters(value)
        if bad and path == _PASSWORD:
            report.error(path, "contains a character outside the X12 character sets")
        elif bad:
            report.error(path, f"contains {describe_characters(bad)}: not allowed in X12")
