"""The one set of request rules for Stedi eligibility checks, shared by the real-time and batch
paths: every error in one answer, each with its field path, and a cleaned copy of the request.

Cleaning (the input is never mutated): strings are stripped of surrounding whitespace (except
`portalPassword`, whose spaces may be part of it); empty strings and nulls inside objects are
dropped, as is an empty `dependents` or `encounter.serviceTypeCodes` list; service type codes
and genders are upper-cased; a short `controlNumber` is zero-padded to Stedi's 9 digits (with
a warning); backticks in subscriber and dependent first and last names become `'` (with a
warning), as Stedi itself would do.

Messages name the field and the rule, never the value: requests carry PHI and secrets.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date

from receiver.eligibility.x12text import (
    SERVICE_TYPE_CODES,
    describe_characters,
    disallowed_characters,
)

JsonObject = dict[str, object]

MAX_BATCH_ITEMS = 10_000  # Stedi's own limit for one batch-eligibility submission
_DIGITS = re.compile(r"[0-9]+")
_MEMBER_ID = re.compile(r"[A-Za-z0-9\- ]+")
_NPI_PREFIX = "80840"  # ISO 7812 issuer prefix for US health identifiers, used by the NPI check
_PASSWORD = "portalPassword"  # noqa: S105 - the field's name, not a secret


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding about a request: the dotted path of the field (`""` for the whole check) and
    what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


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


@dataclass(slots=True)
class _Report:
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.errors.append(Issue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Issue(path, message))


def check_request(check: object, *, today: date) -> CheckResult:
    """Apply every rule to one decoded eligibility check; `today` anchors the service-date
    window. Never raises on bad input: wrong types are errors with their path."""
    report = _Report()
    if not isinstance(check, dict):
        report.error("", f"must be a JSON object, not {_kind(check)}")
        return CheckResult({}, tuple(report.errors), tuple(report.warnings))
    request = _cleaned_object(check, "")
    _check_envelope(request, report)
    _check_provider(request, report)
    _check_subscriber(request, report)
    _check_dependents(request, report)
    _check_encounter(request, report, today)
    _check_characters(request, "", report, {issue.path for issue in report.errors})
    return CheckResult(request, tuple(report.errors), tuple(report.warnings))


def check_batch(items: object, *, today: date, max_items: int = MAX_BATCH_ITEMS) -> BatchResult:
    """Apply `check_request` to each batch item, prefixing paths with `items[i]`, and require a
    `submitterTransactionIdentifier` on each item, unique within the submission."""
    report = _Report()
    if not isinstance(items, list):
        report.error("items", f"must be a list of checks, not {_kind(items)}")
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
    if len(npi) != 10 or not _DIGITS.fullmatch(npi):
        return False
    total = 0
    for position, char in enumerate(reversed(_NPI_PREFIX + npi[:9])):
        digit = int(char)
        if position % 2 == 0:  # double every second digit, starting next to the check digit
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


def service_date_window(today: date) -> tuple[date, date]:
    """The service dates payers must support: 12 months back from `today` through the last day
    of its month (Stedi: payers aren't required to support dates outside this range)."""
    day = 28 if (today.month, today.day) == (2, 29) else today.day
    last_day = calendar.monthrange(today.year, today.month)[1]
    return today.replace(year=today.year - 1, day=day), today.replace(day=last_day)


def _prefixed(prefix: str, issue: Issue) -> Issue:
    return Issue(f"{prefix}.{issue.path}" if issue.path else prefix, issue.message)


def _check_submitter_id(
    request: JsonObject, index: int, first_index: dict[str, int], report: _Report
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


# --- cleaning ----------------------------------------------------------------------------


def _cleaned_object(source: dict[object, object], path: str) -> JsonObject:
    cleaned: JsonObject = {}
    for key, value in source.items():
        name = str(key)
        child_path = _join(path, name)
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


# --- the rules ---------------------------------------------------------------------------


def _check_envelope(request: JsonObject, report: _Report) -> None:
    control = _string(request, "controlNumber", "", report)
    if control is not None:
        if not (len(control) <= 9 and _DIGITS.fullmatch(control)):
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
        _text(request, name, "", report, top)


def _check_provider(request: JsonObject, report: _Report) -> None:
    provider = _object(request, "provider", "", report, required=True)
    if provider is None:
        return
    for name, top in (("organizationName", 60), ("firstName", 35), ("lastName", 60)):
        _text(provider, name, "provider", report, top)
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
    npi = _string(provider, "npi", "provider", report)
    if npi is not None and not is_valid_npi(npi):
        report.error("provider.npi", "must be 10 digits ending in a valid NPI check digit")
    for name in ("taxId", "ssn"):
        value = _string(provider, name, "provider", report)
        if value is not None and not (len(value) == 9 and _DIGITS.fullmatch(value)):
            report.error(f"provider.{name}", "must be 9 digits")


def _check_subscriber(request: JsonObject, report: _Report) -> None:
    subscriber = _object(request, "subscriber", "", report, required=True)
    if subscriber is None:
        return
    if not any(key in subscriber for key in ("memberId", "dateOfBirth", "lastName")):
        report.error("subscriber", "needs at least one of memberId, dateOfBirth or lastName")
    member_id = _string(subscriber, "memberId", "subscriber", report)
    if member_id is not None and not (
        2 <= len(member_id) <= 80 and _MEMBER_ID.fullmatch(member_id)
    ):
        report.error("subscriber.memberId", "must be 2 to 80 letters, digits, spaces or hyphens")
    _check_person(subscriber, "subscriber", report)


def _check_dependents(request: JsonObject, report: _Report) -> None:
    dependents = request.get("dependents")
    if dependents is None:
        return
    if not isinstance(dependents, list):
        report.error("dependents", f"must be a list, not {_kind(dependents)}")
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
            report.error(path, f"must be an object, not {_kind(dependent)}")


def _check_person(person: JsonObject, path: str, report: _Report) -> None:
    """Names, date of birth and gender, shared by the subscriber and a dependent."""
    for name, top in (("firstName", 35), ("lastName", 60), ("middleName", 25)):
        value = _text(person, name, path, report, top)
        if value is not None and "`" in value and name != "middleName":
            person[name] = value.replace("`", "'")
            report.warn(_join(path, name), "backticks were replaced with apostrophes")
    _date_field(person, "dateOfBirth", path, report)
    gender = _string(person, "gender", path, report)
    if gender is not None:
        person["gender"] = gender = gender.upper()
        if gender not in ("M", "F"):
            report.error(_join(path, "gender"), "must be M or F")


def _check_encounter(request: JsonObject, report: _Report, today: date) -> None:
    encounter = _object(request, "encounter", "", report, required=False)
    if encounter is None:
        return
    _check_service_types(encounter, report)
    single = _date_field(encounter, "dateOfService", "encounter", report)
    begin = _date_field(encounter, "beginningDateOfService", "encounter", report)
    end = _date_field(encounter, "endDateOfService", "encounter", report)
    has = {key: key in encounter for key in _SERVICE_DATES}
    if has["dateOfService"] and (has["beginningDateOfService"] or has["endDateOfService"]):
        report.error(
            "encounter.dateOfService",
            "give either dateOfService or beginningDateOfService and endDateOfService, not both",
        )
    for name, other in (
        ("beginningDateOfService", "endDateOfService"),
        ("endDateOfService", "beginningDateOfService"),
    ):
        if has[other] and not has[name]:
            report.error(f"encounter.{name}", f"is required with encounter.{other}")
    if begin is not None and end is not None and begin > end:
        report.error("encounter.endDateOfService", "must not be before beginningDateOfService")
    first, last = service_date_window(today)
    for name, value in zip(_SERVICE_DATES, (single, begin, end), strict=True):
        if value is not None and not first <= value <= last:
            report.warn(
                f"encounter.{name}",
                f"is outside {first:%Y%m%d}-{last:%Y%m%d}, the 12 months back to the end of "
                "this month that payers must support",
            )


_SERVICE_DATES = ("dateOfService", "beginningDateOfService", "endDateOfService")


def _check_service_types(encounter: JsonObject, report: _Report) -> None:
    codes = encounter.get("serviceTypeCodes")
    path = "encounter.serviceTypeCodes"
    if codes is None:
        return
    if not isinstance(codes, list):
        report.error(path, f"must be a list of codes, not {_kind(codes)}")
        return
    if not codes:
        del encounter["serviceTypeCodes"]
        return
    if len(codes) > 99:
        report.error(path, f"holds {len(codes)} codes; at most 99")
    elif len(codes) > 1:
        report.warn(path, "holds more than one code; not all payers support that")
    for index, code in enumerate(codes):
        if not isinstance(code, str):
            report.error(f"{path}[{index}]", f"must be a string, not {_kind(code)}")
            continue
        codes[index] = code = code.upper()
        if code not in SERVICE_TYPE_CODES:
            report.error(f"{path}[{index}]", "is not an X12 005010 service type code")


def _check_characters(value: object, path: str, report: _Report, skip: set[str]) -> None:
    """Refuse X12 delimiters and anything outside the basic and extended sets, in every string
    of the request (skipping fields already in error, so one mistake is reported once)."""
    if isinstance(value, dict):
        for key, child in value.items():
            _check_characters(child, _join(path, key), report, skip)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _check_characters(child, f"{path}[{index}]", report, skip)
    elif isinstance(value, str) and path not in skip:
        bad = disallowed_characters(value)
        if bad and path == _PASSWORD:
            report.error(path, "contains a character outside the X12 character sets")
        elif bad:
            report.error(path, f"contains {describe_characters(bad)}: not allowed in X12")


# --- field helpers -----------------------------------------------------------------------


def _string(obj: JsonObject, key: str, path: str, report: _Report) -> str | None:
    """The field's string value, or None when absent; any other type is an error."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    report.error(_join(path, key), f"must be a string, not {_kind(value)}")
    return None


def _object(
    obj: JsonObject, key: str, path: str, report: _Report, *, required: bool
) -> JsonObject | None:
    value = obj.get(key)
    if isinstance(value, dict):
        return value
    if value is not None:
        report.error(_join(path, key), f"must be an object, not {_kind(value)}")
    elif required:
        report.error(_join(path, key), "is required")
    return None


def _text(obj: JsonObject, key: str, path: str, report: _Report, top: int) -> str | None:
    """The field's string value when it is 1 to `top` characters long; a wrong type or length
    is an error."""
    value = _string(obj, key, path, report)
    if value is not None and not 1 <= len(value) <= top:
        report.error(_join(path, key), f"must be 1 to {top} characters")
        return None
    return value


def _date_field(obj: JsonObject, key: str, path: str, report: _Report) -> date | None:
    text = _string(obj, key, path, report)
    if text is None:
        return None
    parsed = _parse_date(text)
    if parsed is None:
        report.error(_join(path, key), "must be a real date written YYYYMMDD")
    return parsed


def _parse_date(text: str) -> date | None:
    if len(text) != 8 or not _DIGITS.fullmatch(text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "a number"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "an object"),
)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return next((name for kind, name in _KINDS if isinstance(value, kind)), "an unknown type")
