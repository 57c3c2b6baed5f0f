"""Pure follow-up decisions: what a job fetches for an event and what its results are."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from receiver.delivery.message_id import message_id
from receiver.enrollment.events import (
    enrollment_messages,
    enrollment_subject,
    is_enrollment_event,
)
from receiver.followup.claims import acknowledgment_claims, remittance_claims, submission_claims
from receiver.followup.x12 import X12Error, parse_interchange, read_271_coverage
from receiver.models import (
    ClaimEntry,
    Document,
    JobResult,
    OutboundMessage,
    Source,
    StoredEvent,
)
from receiver.upstream.stedi import ReportKind, TransactionArtifact

STEDI_TRANSACTION_TYPE = "transaction.processed.v2"
STEDI_FILE_FAILED_TYPE = "file.failed.v2"
DESTINATION_TRANSACTION_TYPE = "transaction.processed"
INBOUND = "INBOUND"
OUTBOUND = "OUTBOUND"
SUBMISSION_SET = "837"
EDI_CONTENT_TYPE = "application/edi-x12"
CLAIM_SUBMITTED = "submitted"

MSG_TRANSACTION = "stedi.transaction.processed"
MSG_ACKNOWLEDGMENT = "claim.acknowledgment.received"
MSG_REMITTANCE = "claim.remittance.received"
MSG_FILE_FAILED = "claim.file.failed"
MSG_COVERAGE = "coverage_discovery.completed"

# The keys of each `coverage_discovery.completed` coverage entry; `parse_error` is None when
# the path's 271 was read.
COVERAGE_KEYS = (
    "path",
    "chc_payer_id",
    "payer_name",
    "payer_id",
    "member_id",
    "plan_description",
    "parse_error",
)

_REPORT_BY_SET = {"277": ReportKind.ACK_277, "835": ReportKind.ERA_835}
# Where an 837's X12 is: what came in to Stedi, or what went out.
_ARTIFACT_BY_DIRECTION = {INBOUND: TransactionArtifact.INPUT, OUTBOUND: TransactionArtifact.OUTPUT}


def plan_report(event: StoredEvent) -> ReportKind | None:
    """The Stedi report an event's job must fetch, or None if it needs no upstream call."""
    if event.transaction_id is None or event.transaction_set is None:
        return None
    kind = _REPORT_BY_SET.get(event.transaction_set)
    if kind is None:
        return None
    if event.source == Source.STEDI:
        if event.type == STEDI_TRANSACTION_TYPE and event.direction == INBOUND:
            return kind
        return None
    if event.source == Source.STEDI_DESTINATION and event.type == DESTINATION_TRANSACTION_TYPE:
        return kind
    return None


def plan_submission(event: StoredEvent) -> TransactionArtifact | None:
    """Which file of an 837 transaction an event's job must fetch for its X12, or None: the
    input of an INBOUND one (Stedi shows submitted claims that way too), the output of an
    OUTBOUND one, of a Stedi webhook or a poll; for an event destination's 837 (thin, no
    direction) the output."""
    if event.transaction_id is None or event.transaction_set != SUBMISSION_SET:
        return None
    if event.source == Source.STEDI and event.type == STEDI_TRANSACTION_TYPE:
        return _ARTIFACT_BY_DIRECTION.get(event.direction or "")
    if event.source == Source.STEDI_DESTINATION and event.type == DESTINATION_TRANSACTION_TYPE:
        return _ARTIFACT_BY_DIRECTION.get(event.direction or OUTBOUND)
    return None


def message_subject(event: StoredEvent) -> tuple[str, ...]:
    """What an event's messages are about (see `message_id`): its Stedi transaction, else a
    file event's file execution, else its Optum task and status, else only the event."""
    if event.source in (Source.STEDI, Source.STEDI_DESTINATION) and event.transaction_id:
        return ("stedi-transaction", event.transaction_id)
    file_execution_id = event.summary.get("file_execution_id")
    is_file_event = event.source == Source.STEDI and event.type.startswith("file.")
    if is_file_event and isinstance(file_execution_id, str):
        return ("stedi-file", file_execution_id)
    task_id, task_status = event.summary.get("task_id"), event.summary.get("task_status")
    if event.source == Source.OPTUM and isinstance(task_id, str) and isinstance(task_status, str):
        return ("optum-task", task_id, task_status)
    return enrollment_subject(event) or ("event", event.id)


def build_result(
    event: StoredEvent,
    *,
    report: bytes | None,
    kind: ReportKind | None,
    now: datetime,
    submission: bytes | None = None,
) -> JobResult:
    """What finishing `event`'s job stores: report or 837 documents, claim entries, messages.

    Messages carry ids, codes and per-claim summaries, never the raw event body or report;
    their ids follow from what they describe (`message_subject`), so the same transaction
    told twice (a webhook and an event destination, or a poll) publishes each type once.
    Claim entries name the document they were read from: the store keeps them only with it.
    An 837 (`submission`) adds "submitted" claim entries but no message of its own.
    """
    documents: list[Document] = []
    claims: list[ClaimEntry] = []
    messages: list[tuple[str, dict[str, object]]] = []

    if _is_transaction_event(event):
        messages.append(
            (
                MSG_TRANSACTION,
                {
                    "event_id": event.id,
                    "transaction_id": event.transaction_id,
                    "transaction_set": event.transaction_set,
                    "direction": event.direction,
                    "summary": event.summary,
                },
            )
        )
    if report is not None and kind is not None and event.transaction_id is not None:
        parsed = _json_object(report)
        documents.append(Document(kind=str(kind), transaction_id=event.transaction_id, body=report))
        if kind is ReportKind.ACK_277:
            found: list[Any] = list(acknowledgment_claims(parsed))
            claim_kind, message_type = "acknowledgment", MSG_ACKNOWLEDGMENT
        else:
            found = list(remittance_claims(parsed))
            claim_kind, message_type = "remittance", MSG_REMITTANCE
        summaries = [_plain(dataclasses.asdict(claim)) for claim in found]
        claims.extend(
            ClaimEntry(
                patient_control_number=claim.patient_control_number,
                kind=claim_kind,
                data=summary,
                document_kind=kind.value,
            )
            for claim, summary in zip(found, summaries, strict=True)
        )
        messages.append(
            (
                message_type,
                {
                    "event_id": event.id,
                    "transaction_id": event.transaction_id,
                    "claims": summaries,
                },
            )
        )
    if submission is not None and event.transaction_id is not None:
        documents.append(
            Document(
                kind=SUBMISSION_SET,
                transaction_id=event.transaction_id,
                body=submission,
                content_type=EDI_CONTENT_TYPE,
            )
        )
        claims.extend(
            ClaimEntry(
                patient_control_number=claim.patient_control_number,
                kind=CLAIM_SUBMITTED,
                data=_plain(dataclasses.asdict(claim)),
                document_kind=SUBMISSION_SET,
            )
            for claim in submission_claims(_segments(submission))
        )
    if event.source == Source.STEDI and event.type == STEDI_FILE_FAILED_TYPE:
        fault_codes = event.summary.get("fault_codes")
        messages.append(
            (
                MSG_FILE_FAILED,
                {
                    "event_id": event.id,
                    "fault_codes": list(fault_codes) if isinstance(fault_codes, list) else [],
                },
            )
        )
    if event.source == Source.OPTUM and not is_enrollment_event(event):
        messages.append((MSG_COVERAGE, _coverage_data(event)))
    messages.extend(enrollment_messages(event))

    about = message_subject(event)
    return JobResult(
        documents=tuple(documents),
        claims=tuple(claims),
        messages=tuple(
            OutboundMessage(
                id=message_id(account=event.account, about=about, message_type=message_type),
                type=message_type,
                account=event.account,
                data=data,
                created_at=now,
            )
            for message_type, data in messages
        ),
    )


def _is_transaction_event(event: StoredEvent) -> bool:
    if event.source == Source.STEDI:
        return event.type == STEDI_TRANSACTION_TYPE
    if event.source == Source.STEDI_DESTINATION:
        return event.type == DESTINATION_TRANSACTION_TYPE
    return False


def _coverage_data(event: StoredEvent) -> dict[str, object]:
    """The task and one entry per successful discovery path (no member names): what its 271
    says, or, if it cannot be read, the path with a `parse_error` naming what failed."""
    payload = _json_object(event.body or b"")
    paths = payload.get("discoveryPaths")
    successful = paths.get("successful") if isinstance(paths, dict) else None
    return {
        "event_id": event.id,
        "task_id": event.summary.get("task_id"),
        "task_status": event.summary.get("task_status"),
        "coverages": [_coverage(path) for path in _list(successful)],
    }


def _coverage(path: object) -> dict[str, object]:
    """One successful path's coverage entry; every entry has the same keys."""
    entry: dict[str, object] = dict.fromkeys(COVERAGE_KEYS)
    if not isinstance(path, dict):
        entry["parse_error"] = "discovery path is not an object"
        return entry
    transaction = path.get("transaction")
    transaction = transaction if isinstance(transaction, dict) else {}
    entry["path"] = _str(path.get("name"))
    entry["chc_payer_id"] = _str(transaction.get("chcPayerId"))
    x12 = transaction.get("x12-271")
    if not isinstance(x12, str):
        entry["parse_error"] = "the path's transaction has no x12-271 text"
        return entry
    try:
        coverage = read_271_coverage(x12)
    except X12Error as exc:
        entry["parse_error"] = f"x12-271: {exc}"  # X12Error never quotes the text
        return entry
    entry.update(dataclasses.asdict(coverage))
    return entry


@dataclasses.dataclass(frozen=True, slots=True)
class ParseProblem:
    """A part of a job's input that could not be read and is published with a parse error."""

    document: str  # "271"
    index: int  # the part's position among its siblings (the n-th successful path)
    reason: str


def parse_problems(result: JobResult) -> list[ParseProblem]:
    """The unreadable parts a job's messages carry, for the worker to log and count."""
    problems: list[ParseProblem] = []
    for message in result.messages:
        if message.type != MSG_COVERAGE:
            continue
        for index, coverage in enumerate(_list(message.data.get("coverages"))):
            reason = coverage.get("parse_error") if isinstance(coverage, dict) else None
            if isinstance(reason, str):
                problems.append(ParseProblem(document="271", index=index, reason=reason))
    return problems


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _segments(raw: bytes) -> list[list[str]]:
    """`raw` split into X12 segments, or none if it is not an interchange."""
    try:
        return parse_interchange(raw)
    except X12Error:
        return []


def _json_object(raw: bytes) -> dict[str, object]:
    """`raw` parsed as a JSON object, or an empty one if it is not one."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _plain(value: object) -> Any:
    """`value` with tuples turned into lists, so it reads back from JSON unchanged."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
