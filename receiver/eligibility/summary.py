"""The PHI-free summaries published with `eligibility.check.completed` (one Stedi eligibility
response, real-time or a batch poll item) and `eligibility.batch.completed` (counts).

A summary carries ids, the coverage status, plan dates and AAA errors. It never carries member
names, dates of birth, member ids, addresses or Stedi's free-text `possibleResolutions`: those
stay in the stored document. Reading is lenient: missing or mistyped fields become None.

Coverage status, in this order:
1. `error` when the response carries AAA `errors`, `status` is `ERROR`, or a 999 syntax error
   (`implementationTransactionSetSyntaxError`): the payer did not answer for this patient.
2. `active` when any `benefitsInformation[].code` (or deprecated `planStatus[].statusCode`) is
   1-5 (Active Coverage, Active - Full Risk Capitation, Active - Services Capitated, Active -
   Services Capitated to Primary Care Physician, Active - Pending Investigation).
3. `inactive` when any is 6-8 (Inactive, Inactive - Pending Eligibility Update, Inactive -
   Pending Investigation) and none is active.
4. `unknown` otherwise (Stedi's batch results call this INVESTIGATE).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

ACTIVE_CODES = frozenset("12345")
INACTIVE_CODES = frozenset("678")
# Only dates about the plan; `dateOfDeath` and other person dates in the same object are PHI.
PLAN_DATE_FIELDS = (
    "plan",
    "planBegin",
    "planEnd",
    "eligibility",
    "eligibilityBegin",
    "eligibilityEnd",
    "policyEffective",
    "policyExpiration",
)
_DATE_OR_RANGE = re.compile(r"[0-9]{8}(-[0-9]{8})?")


class CoverageStatus(enum.StrEnum):
    """What one eligibility response says about coverage."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    ERROR = "error"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AaaError:
    """One payer rejection reason (an X12 AAA segment) as Stedi maps it."""

    code: str | None
    description: str | None
    followup_action: str | None
    location: str | None


@dataclass(frozen=True, slots=True)
class CheckSummary:
    """The data of an `eligibility.check.completed` message."""

    eligibility_check_id: str | None
    control_number: str | None
    trading_partner_service_id: str | None
    batch_id: str | None
    submitter_transaction_identifier: str | None
    status: CoverageStatus
    plan_dates: dict[str, str]
    errors: tuple[AaaError, ...]

    def to_data(self) -> dict[str, object]:
        """The summary as JSON-ready data."""
        data = asdict(self)
        data["status"] = self.status.value
        data["errors"] = [asdict(error) for error in self.errors]
        return data


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """The data of an `eligibility.batch.completed` message: counts by coverage status."""

    batch_id: str | None
    total: int
    active: int
    inactive: int
    errors: int
    unknown: int

    def to_data(self) -> dict[str, object]:
        """The summary as JSON-ready data."""
        return asdict(self)


def summarize_check(response: object) -> CheckSummary:
    """Summarize one Stedi eligibility response (real-time `eligibility/v3` or one item of a
    batch poll page) without PHI."""
    doc: Mapping[str, object] = response if isinstance(response, Mapping) else {}
    errors = aaa_errors(doc)
    return CheckSummary(
        eligibility_check_id=_text(doc.get("id")),
        control_number=_text(doc.get("controlNumber")),
        trading_partner_service_id=_text(doc.get("tradingPartnerServiceId")),
        batch_id=_text(doc.get("batchId")),
        submitter_transaction_identifier=_text(doc.get("submitterTransactionIdentifier")),
        status=coverage_status(doc),
        plan_dates=plan_dates(doc),
        errors=errors,
    )


def summarize_batch(batch_id: str | None, checks: Iterable[CheckSummary]) -> BatchSummary:
    """Count a batch's item summaries by coverage status."""
    counts = dict.fromkeys(CoverageStatus, 0)
    for check in checks:
        counts[check.status] += 1
    return BatchSummary(
        batch_id=batch_id,
        total=sum(counts.values()),
        active=counts[CoverageStatus.ACTIVE],
        inactive=counts[CoverageStatus.INACTIVE],
        errors=counts[CoverageStatus.ERROR],
        unknown=counts[CoverageStatus.UNKNOWN],
    )


def coverage_status(response: Mapping[str, object]) -> CoverageStatus:
    """The coverage status of one response, by the rule in the module docstring."""
    status = _text(response.get("status"))
    if (
        aaa_errors(response)
        or (status is not None and status.upper() == "ERROR")
        or _text(response.get("implementationTransactionSetSyntaxError"))
    ):
        return CoverageStatus.ERROR
    codes = set(_codes(response.get("benefitsInformation"), "code"))
    codes.update(_codes(response.get("planStatus"), "statusCode"))
    if codes & ACTIVE_CODES:
        return CoverageStatus.ACTIVE
    if codes & INACTIVE_CODES:
        return CoverageStatus.INACTIVE
    return CoverageStatus.UNKNOWN


def aaa_errors(response: Mapping[str, object]) -> tuple[AaaError, ...]:
    """The response's top-level `errors` (Stedi repeats every payer, provider, subscriber and
    dependent AAA error there), without `possibleResolutions`."""
    found = response.get("errors")
    if not isinstance(found, list):
        return ()
    return tuple(
        AaaError(
            code=_text(error.get("code")),
            description=_text(error.get("description")),
            followup_action=_text(error.get("followupAction")),
            location=_text(error.get("location")),
        )
        for error in found
        if isinstance(error, Mapping)
    )


def plan_dates(response: Mapping[str, object]) -> dict[str, str]:
    """The plan and eligibility dates of `planDateInformation` (YYYYMMDD or a
    YYYYMMDD-YYYYMMDD range); anything else in that object is left out."""
    info = response.get("planDateInformation")
    if not isinstance(info, Mapping):
        return {}
    dates: dict[str, str] = {}
    for name in PLAN_DATE_FIELDS:
        value = info.get(name)
        if isinstance(value, str) and _DATE_OR_RANGE.fullmatch(value):
            dates[name] = value
    return dates


def _codes(entries: object, key: str) -> Iterable[str]:
    if not isinstance(entries, list):
        return ()
    return (
        entry[key].strip()
        for entry in entries
        if isinstance(entry, Mapping) and isinstance(entry.get(key), str)
    )


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
