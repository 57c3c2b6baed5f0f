"""Pure follow-up decisions: what a job fetches for an event and what its results are."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from receiver.delivery.message_id import message_id
from receiver.eligibility.events import eligibility_messages, eligibility_subject
from receiver.enrollment.events import (
    enrollment_messages,
    enrollment_subject,
    is_enrollment_event,
)
from receiver.followup.claims import acknowledgment_claims, remittance_claims, submission_claims
from receiver.followup.x12 import X12Error, parse_interchange, read_271_coverage
from receiver.models import (
    Account,
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

_FROM_REPORT = frozenset({MSG_ACKNOWLEDGMENT, MSG_REMITTANCE})
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
    return eligibility_subject(event) or enrollment_subject(event) or ("event", event.id)


@dataclasses.dataclass(frozen=True, slots=True)
class WantedDocument:
    """The one document an event's job needs: a Stedi report, or an 837's X12."""

    kind: str  # the stored document kind: "277", "835" or "837"
    transaction_id: str
    report: ReportKind | None = None  # set for a report
    artifact: TransactionArtifact | None = None  # set for an 837


@dataclasses.dataclass(frozen=True, slots=True)
class UseDocument:
    """Finish with this document (None: the event needs none), no upstream call."""

    body: bytes | None


@dataclasses.dataclass(frozen=True, slots=True)
class FetchDocument:
    """Fetch `wanted` from Stedi with the account's API key."""

    wanted: WantedDocument
    account: str
    api_key: str


@dataclasses.dataclass(frozen=True, slots=True)
class KillJob:
    """Give up at once: no retry can succeed until an operator acts (the reason says how)."""

    reason: str


FetchPlan = UseDocument | FetchDocument | KillJob


def wanted_document(event: StoredEvent) -> WantedDocument | None:
    """The document `event`'s job needs before it can finish, or None."""
    if event.transaction_id is None:
        return None
    report = plan_report(event)
    if report is not None:
        return WantedDocument(kind=report.value, transaction_id=event.transaction_id, report=report)
    artifact = plan_submission(event)
    if artifact is not None:
        return WantedDocument(
            kind=SUBMISSION_SET, transaction_id=event.transaction_id, artifact=artifact
        )
    return None


def plan_fetch(event: StoredEvent, account: Account | None, *, stored: bytes | None) -> FetchPlan:
    """What a job does before finishing: nothing to fetch, reuse the copy already `stored` for
    its account and transaction (another event told of it first), fetch the wanted report or
    837 with the `account`'s key, or die because the account has no key to fetch it with."""
    wanted = wanted_document(event)
    if wanted is None or stored is not None:
        return UseDocument(stored)
    if account is None or not account.api_key:
        name = event.account or "(none)"
        return KillJob(
            f"account {name} has no Stedi API key; add one with "
            f"receiver accounts rotate {name} --api-key-env VAR, then receiver jobs retry"
        )
    return FetchDocument(wanted=wanted, account=account.name, api_key=account.api_key)


@dataclasses.dataclass(frozen=True, slots=True)
class DocumentVersion:
    """Which version of its transaction's document a job finishes with: the document's
    `revision` and the `content_digest` its report's message ids take (see `message_id`);
    `changed` when it is a new version (a corrected report)."""

    revision: int = 0
    content_digest: str | None = None
    changed: bool = False


def document_version(stored: Document | None, document: bytes | None) -> DocumentVersion:
    """The version `document` is, given the newest copy `stored` for the event's account,
    transaction and kind: with nothing stored (or no document), the first (revision 0, no
    digest); the same bytes, the stored revision with the digest it was published with (none
    for revision 0), so the same message ids and nothing new; different bytes (a reprocess
    fetched a corrected report), the next revision with the SHA-256 of the new bytes. A copy
    emptied by retention cannot be compared: the fetch counts as the stored version."""
    if stored is None or document is None:
        return DocumentVersion()
    if stored.body == document or stored.body == b"":
        digest = hashlib.sha256(document).hexdigest() if stored.revision else None
        return DocumentVersion(revision=stored.revision, content_digest=digest)
    digest = hashlib.sha256(document).hexdigest()
    return DocumentVersion(revision=stored.revision + 1, content_digest=digest, changed=True)


def build_result(
    event: StoredEvent,
    *,
    report: bytes | None,
    kind: ReportKind | None,
    now: datetime,
    submission: bytes | None = None,
    content_digest: str | None = None,
    revision: int = 0,
) -> JobResult:
    """What finishing `event`'s job stores: report or 837 documents, claim entries, messages.

    Messages carry ids, codes and per-claim summaries, never the raw event body or report;
    their ids follow from what they describe (`message_subject`), so the same transaction
    told twice (a webhook and an event destination, or a poll) publishes each type once
    (once per version of the report: a corrected one publishes again, under new ids).
    Claim entries name the document they were read from: the store keeps them only with it.
    An 837 (`submission`) adds "submitted" claim entries but no message of its own.
    `content_digest` and `revision` (a reprocess that fetched a changed document, see
    `document_version`) give the messages read from the report new ids and the document (with
    the claims read from it) its revision; what the event itself says keeps its id.
    """
    parts = [
        _transaction_parts(event),
        _report_parts(event, report, kind, revision),
        _submission_parts(event, submission, revision),
        _file_failed_parts(event),
        _coverage_parts(event),
        _Parts(messages=tuple(eligibility_messages(event))),
        _Parts(messages=tuple(enrollment_messages(event))),
    ]
    about = message_subject(event)
    return JobResult(
        documents=tuple(d for part in parts for d in part.documents),
        claims=tuple(c for part in parts for c in part.claims),
        messages=tuple(
            OutboundMessage(
                id=message_id(
                    account=event.account,
                    about=about,
                    message_type=message_type,
                    content_digest=content_digest if message_type in _FROM_REPORT else None,
                ),
                type=message_type,
                account=event.account,
                data=data,
                created_at=now,
            )
            for part in parts
            for message_type, data in part.messages
        ),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _Parts:
    """One message kind's share of a JobResult."""

    documents: tuple[Document, ...] = ()
    claims: tuple[ClaimEntry, ...] = ()
    messages: tuple[tuple[str, dict[str, object]], ...] = ()


def _transaction_parts(event: StoredEvent) -> _Parts:
    """`stedi.transaction.processed` for a transaction event: what the event itself says."""
    if not _is_transaction_event(event):
        return _Parts()
    data: dict[str, object] = {
        "event_id": event.id,
        "transaction_id": event.transaction_id,
        "transaction_set": event.transaction_set,
        "direction": event.direction,
        "summary": event.summary,
    }
    return _Parts(messages=((MSG_TRANSACTION, data),))


def _report_parts(
    event: StoredEvent, report: bytes | None, kind: ReportKind | None, revision: int
) -> _Parts:
    """A 277CA or 835: the report kept as a document, a claim entry and a summary per claim."""
    if report is None or kind is None or event.transaction_id is None:
        return _Parts()
    parsed = _json_object(report)
    if kind is ReportKind.ACK_277:
        found: list[Any] = list(acknowledgment_claims(parsed))
        claim_kind, message_type = "acknowledgment", MSG_ACKNOWLEDGMENT
    else:
        found = list(remittance_claims(parsed))
        claim_kind, message_type = "remittance", MSG_REMITTANCE
    summaries = [_summary(claim) for claim in found]
    claims = tuple(
        ClaimEntry(
            patient_control_number=claim.patient_control_number,
            kind=claim_kind,
            data=summary,
            document_kind=kind.value,
        )
        for claim, summary in zip(found, summaries, strict=True)
    )
    data: dict[str, object] = {
        "event_id": event.id,
        "transaction_id": event.transaction_id,
        "claims": summaries,
    }
    document = Document(
        kind=str(kind), transaction_id=event.transaction_id, body=report, revision=revision
    )
    return _Parts(documents=(document,), claims=claims, messages=((message_type, data),))


def _submission_parts(event: StoredEvent, submission: bytes | None, revision: int) -> _Parts:
    """An 837's X12: kept as a document, a "submitted" claim entry per claim, no message."""
    if submission is None or event.transaction_id is None:
        return _Parts()
    document = Document(
        kind=SUBMISSION_SET,
        transaction_id=event.transaction_id,
        body=submission,
        content_type=EDI_CONTENT_TYPE,
        revision=revision,
    )
    claims = tuple(
        ClaimEntry(
            patient_control_number=claim.patient_control_number,
            kind=CLAIM_SUBMITTED,
            data=_plain(dataclasses.asdict(claim)),
            document_kind=SUBMISSION_SET,
        )
        for claim in submission_claims(_segments(submission))
    )
    return _Parts(documents=(document,), claims=claims)


def _file_failed_parts(event: StoredEvent) -> _Parts:
    """`claim.file.failed` for a Stedi file.failed.v2 webhook, with its fault codes."""
    if event.source != Source.STEDI or event.type != STEDI_FILE_FAILED_TYPE:
        return _Parts()
    fault_codes = event.summary.get("fault_codes")
    data: dict[str, object] = {
        "event_id": event.id,
        "fault_codes": list(fault_codes) if isinstance(fault_codes, list) else [],
    }
    return _Parts(messages=((MSG_FILE_FAILED, data),))


def needs_body(event: StoredEvent) -> bool:
    """Whether finishing `event`'s job reads its raw body: only an Optum Coverage Discovery
    callback's does (its discovery paths); every other job works from the stored columns, so
    the worker reads and opens no body for it."""
    return event.source == Source.OPTUM and not is_enrollment_event(event)


def _coverage_parts(event: StoredEvent) -> _Parts:
    """`coverage_discovery.completed` for an Optum callback."""
    if not needs_body(event):
        return _Parts()
    return _Parts(messages=((MSG_COVERAGE, _coverage_data(event)),))


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

    document: str  # "271" or "837"
    index: int  # the part's position among its siblings (the n-th successful path)
    reason: str


def parse_problems(result: JobResult) -> list[ParseProblem]:
    """The unreadable parts a job stored or published, for the worker to log and count: a
    discovery path whose 271 could not be read, an 837 that is not an X12 interchange (kept as
    it came, with no claims read from it)."""
    problems: list[ParseProblem] = []
    for message in result.messages:
        if message.type != MSG_COVERAGE:
            continue
        for index, coverage in enumerate(_list(message.data.get("coverages"))):
            reason = coverage.get("parse_error") if isinstance(coverage, dict) else None
            if isinstance(reason, str):
                problems.append(ParseProblem(document="271", index=index, reason=reason))
    submissions = (d for d in result.documents if d.kind == SUBMISSION_SET)
    for index, document in enumerate(submissions):
        try:
            parse_interchange(document.body)
        except X12Error as exc:  # X12Error never quotes the text
            problems.append(ParseProblem(document="837", index=index, reason=str(exc)))
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
    """`raw` parsed as a JSON object, or an empty one if it is not one: json.loads's answer.

    orjson gives it at twice the speed (7.5 us against 16.5 for a 6 KB 835, a fifth of a
    job's result) and the same values, except for an integer beyond 64 bits, which it reads as
    a float: a document with a run of 19 digits anywhere, and anything orjson refuses (NaN,
    UTF-16, lone surrogates), is read by json.loads."""
    if _NINETEEN_DIGITS not in raw.translate(_DIGITS_AS_ZERO):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            return value if isinstance(value, dict) else {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


# A run of 19 digits: an integer orjson might read as a float. Found by mapping every digit to
# "0" (in C: 1-2 us for an 835, where the regex [0-9]{19} took 33 us).
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_NINETEEN_DIGITS = b"0" * 19


def _summary(claim: Any) -> dict[str, Any]:
    """A claim's fields as JSON-ready values: what `_plain(dataclasses.asdict(claim))` gives
    for these flat claims (strings and tuples of strings), without asdict's deep copy, which was
    a fifth of building a job's result."""
    return {field.name: _plain(getattr(claim, field.name)) for field in dataclasses.fields(claim)}


def _plain(value: object) -> Any:
    """`value` with tuples turned into lists, so it reads back from JSON unchanged."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
