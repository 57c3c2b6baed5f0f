"""Optum's ERA enrollment `ResultSummary`, read leniently into values, and the
`era_enrollment.completed` message data built from it. Pure."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from receiver.enrollment.records import normalise_record, record_fingerprint

COMPLETED_TYPE = "era_enrollment.completed"


class ResultStatus(enum.StrEnum):
    """Where a submission stands (Optum: "Processing", "Complete", "Errored")."""

    PROCESSING = "processing"
    COMPLETE = "complete"
    ERRORED = "errored"


class UnreadableResultError(ValueError):
    """A result answer without a status receiver knows; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Which record a result is about: payer, NPI, TIN and the record's fingerprint (the one
    `record_fingerprint` gave the submitted record, if Optum echoed it unchanged)."""

    payer_id: str | None
    npi: int | None
    tin: int | None
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Association:
    """One payer/provider-id association of an accepted record."""

    payer_id: str | None
    provider_id: str | None
    provider_id_type: str | None
    status: str | None
    status_date: str | None
    rejection_reason: str | None


@dataclass(frozen=True, slots=True)
class AcceptedRecord:
    """A record Optum accepted, with its association statuses."""

    ref: RecordRef
    enrollment_status: str | None
    associations: tuple[Association, ...]


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A record Optum rejected, with its error messages one per line of `errorMessages`."""

    ref: RecordRef
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResultSummary:
    """A `ResultSummary`: the status, the counts Optum gave (None when absent) and the
    records (empty unless complete)."""

    status: ResultStatus
    received: int | None
    accepted: int | None
    rejected: int | None
    accepted_records: tuple[AcceptedRecord, ...]
    rejected_records: tuple[RejectedRecord, ...]


def read_result_summary(document: object) -> ResultSummary:
    """Read a `GET /era/results/{payloadId}` answer. The status is matched whatever its case
    or surrounding spaces; the received count is read from the spec's misspelled
    `numberOfRecordsRecieved` or a correctly spelled `numberOfRecordsReceived`; malformed
    entries are skipped. UnreadableResultError when there is no known status."""
    if not isinstance(document, Mapping):
        raise UnreadableResultError("result is not a JSON object")
    raw = document.get("status")
    try:
        status = ResultStatus(raw.strip().lower()) if isinstance(raw, str) else None
    except ValueError:
        status = None
    if status is None:
        raise UnreadableResultError("result has no known status (Processing, Complete, Errored)")
    received = _count(document.get("numberOfRecordsRecieved"))
    if received is None:
        received = _count(document.get("numberOfRecordsReceived"))
    return ResultSummary(
        status=status,
        received=received,
        accepted=_count(document.get("numberOfRecordsAccepted")),
        rejected=_count(document.get("numberOfRecordsRejected")),
        accepted_records=tuple(_accepted(r) for r in _objects(document.get("acceptedRecords"))),
        rejected_records=tuple(_rejected(r) for r in _objects(document.get("rejectedRecords"))),
    )


def split_error_messages(value: object) -> tuple[str, ...]:
    """`errorMessages` (a newline-separated string) as one message per line, trimmed, empty
    lines dropped."""
    if not isinstance(value, str):
        return ()
    return tuple(line.strip() for line in value.splitlines() if line.strip())


def completed_message_data(summary: ResultSummary, *, payload_id: str) -> dict[str, object]:
    """The `era_enrollment.completed` message data: status, counts, and each record by payer
    id, NPI, TIN and fingerprint, with association statuses or rejection messages. No contact
    names, emails or phone numbers. ValueError while the submission is still processing."""
    if summary.status is ResultStatus.PROCESSING:
        raise ValueError("a submission still processing has no completed message")
    return {
        "payload_id": payload_id,
        "status": summary.status.value,
        "records_received": summary.received,
        "records_accepted": summary.accepted,
        "records_rejected": summary.rejected,
        "accepted": [
            {
                **_ref_data(record.ref),
                "enrollment_status": record.enrollment_status,
                "associations": [_association_data(a) for a in record.associations],
            }
            for record in summary.accepted_records
        ],
        "rejected": [
            {**_ref_data(record.ref), "errors": list(record.errors)}
            for record in summary.rejected_records
        ],
    }


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _objects(value: object) -> list[Mapping[str, object]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _ref(record: Mapping[str, object]) -> RecordRef:
    canonical = normalise_record(record)
    identifiers = canonical.get("providerIdentifiers")
    identifiers = identifiers if isinstance(identifiers, Mapping) else {}
    return RecordRef(
        payer_id=_text(canonical.get("payerId")),
        npi=_integer(identifiers.get("npi")),
        tin=_integer(identifiers.get("tinOrEin")),
        fingerprint=record_fingerprint(record),
    )


def _accepted(record: Mapping[str, object]) -> AcceptedRecord:
    statuses = record.get("statuses")
    statuses = statuses if isinstance(statuses, Mapping) else {}
    associations = tuple(
        Association(
            payer_id=_text(item.get("payerId")),
            provider_id=_text(item.get("providerId")),
            provider_id_type=_text(item.get("providerIdType")),
            status=_text(item.get("status")),
            status_date=_text(item.get("statusDate")),
            rejection_reason=_text(item.get("rejectionReason")),
        )
        for item in _objects(statuses.get("associationStatuses"))
    )
    return AcceptedRecord(_ref(record), _text(statuses.get("enrollmentStatus")), associations)


def _rejected(record: Mapping[str, object]) -> RejectedRecord:
    return RejectedRecord(_ref(record), split_error_messages(record.get("errorMessages")))


def _ref_data(ref: RecordRef) -> dict[str, object]:
    return {
        "payer_id": ref.payer_id,
        "npi": ref.npi,
        "tin": ref.tin,
        "fingerprint": ref.fingerprint,
    }


def _association_data(association: Association) -> dict[str, object]:
    data: dict[str, object] = {
        "payer_id": association.payer_id,
        "provider_id": association.provider_id,
        "provider_id_type": association.provider_id_type,
        "status": association.status,
        "status_date": association.status_date,
    }
    if association.rejection_reason is not None:
        data["rejection_reason"] = association.rejection_reason
    return data


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
