"""Rules for a check's `encounter`: service dates and service type codes."""

from __future__ import annotations

import calendar
from datetime import date

from receiver.eligibility.fields import JsonObject, Report, kind, read_date, read_object
from receiver.eligibility.x12text import SERVICE_TYPE_CODES

_SERVICE_DATES = ("dateOfService", "beginningDateOfService", "endDateOfService")


def service_date_window(today: date) -> tuple[date, date]:
    """The service dates payers must support: 12 months back from `today` through the last day
    of its month (Stedi: payers aren't required to support dates outside this range)."""
    day = 28 if (today.month, today.day) == (2, 29) else today.day
    last_day = calendar.monthrange(today.year, today.month)[1]
    return today.replace(year=today.year - 1, day=day), today.replace(day=last_day)


def check_encounter(request: JsonObject, report: Report, today: date) -> None:
    """Service dates (a single date or a begin/end pair, real, in order; a warning outside the
    payer window) and service type codes (known, upper-cased; a warning for more than one)."""
    encounter = read_object(request, "encounter", "", report, required=False)
    if encounter is None:
        return
    _check_service_types(encounter, report)
    single = read_date(encounter, "dateOfService", "encounter", report)
    begin = read_date(encounter, "beginningDateOfService", "encounter", report)
    end = read_date(encounter, "endDateOfService", "encounter", report)
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


def _check_service_types(encounter: JsonObject, report: Report) -> None:
    codes = encounter.get("serviceTypeCodes")
    path = "encounter.serviceTypeCodes"
    if codes is None:
        return
    if not isinstance(codes, list):
        report.error(path, f"must be a list of codes, not {kind(codes)}")
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
            report.error(f"{path}[{index}]", f"must be a string, not {kind(code)}")
            continue
        codes[index] = code = code.upper()
        if code not in SERVICE_TYPE_CODES:
            report.error(f"{path}[{index}]", "is not an X12 005010 service type code")
