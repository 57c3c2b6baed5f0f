"""The follow-up worker: claim due jobs, fetch Stedi reports and submitted 837s, store results
and messages."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import anyio
import structlog

from receiver.claims import acknowledgment_claims, remittance_claims, submission_claims
from receiver.clock import Clock
from receiver.ids import new_id
from receiver.metrics import Metrics
from receiver.models import (
    ClaimEntry,
    Document,
    Job,
    JobResult,
    OutboundMessage,
    Source,
    StoredEvent,
)
from receiver.policy import FailureKind, RetryPolicy, decide_retry
from receiver.pump import Wakeup, pump
from receiver.store.base import PROCESS_JOB, Store
from receiver.upstream.stedi import ReportKind, StediClient, UpstreamError
from receiver.x12 import X12Error, parse_interchange, read_271_coverage

_log = structlog.get_logger("receiver.worker")

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

_REPORT_BY_SET = {"277": ReportKind.ACK_277, "835": ReportKind.ERA_835}


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


def plan_submission(event: StoredEvent) -> bool:
    """Whether an event's job must fetch the X12 of an 837 we submitted (the transaction's
    output): a Stedi webhook for an OUTBOUND 837, or an event destination's 837 transaction."""
    if event.transaction_id is None or event.transaction_set != SUBMISSION_SET:
        return False
    if event.source == Source.STEDI:
        return event.type == STEDI_TRANSACTION_TYPE and event.direction == OUTBOUND
    if event.source == Source.STEDI_DESTINATION:
        return event.type == DESTINATION_TRANSACTION_TYPE and event.direction != INBOUND
    return False


def build_result(
    event: StoredEvent,
    *,
    report: bytes | None,
    kind: ReportKind | None,
    now: datetime,
    new_message_id: Callable[[], str],
    submission: bytes | None = None,
) -> JobResult:
    """What finishing `event`'s job stores: report or 837 documents, claim entries, messages.

    Messages carry ids, codes and per-claim summaries, never the raw event body or report.
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
    if event.source == Source.OPTUM:
        messages.append((MSG_COVERAGE, _coverage_data(event)))

    return JobResult(
        documents=tuple(documents),
        claims=tuple(claims),
        messages=tuple(
            OutboundMessage(
                id=new_message_id(),
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
    """The task and the coverages its successful discovery paths found (no member names)."""
    payload = _json_object(event.body or b"")
    coverages: list[dict[str, object]] = []
    paths = payload.get("discoveryPaths")
    successful = paths.get("successful") if isinstance(paths, dict) else None
    for path in successful if isinstance(successful, list) else []:
        if not isinstance(path, dict):
            continue
        transaction = path.get("transaction")
        if not isinstance(transaction, dict):
            continue
        x12 = transaction.get("x12-271")
        if not isinstance(x12, str):
            continue
        try:
            coverage = read_271_coverage(x12)
        except X12Error:
            continue
        chc_payer_id = transaction.get("chcPayerId")
        name = path.get("name")
        coverages.append(
            {
                "path": name if isinstance(name, str) else None,
                "chc_payer_id": chc_payer_id if isinstance(chc_payer_id, str) else None,
                "payer_name": coverage.payer_name,
                "payer_id": coverage.payer_id,
                "member_id": coverage.member_id,
                "plan_description": coverage.plan_description,
            }
        )
    return {
        "event_id": event.id,
        "task_id": event.summary.get("task_id"),
        "task_status": event.summary.get("task_status"),
        "coverages": coverages,
    }


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


class Worker:
    """Claims due `process` jobs and finishes each: done, retry later, or dead."""

    def __init__(
        self,
        *,
        store: Store,
        stedi: StediClient,
        policy: RetryPolicy,
        clock: Clock,
        lease_seconds: int = 300,
        batch: int = 10,
        max_in_flight: int = 32,
        metrics: Metrics | None = None,
        published: Wakeup | None = None,
    ) -> None:
        self._max_in_flight = max(1, max_in_flight)
        self._published = published  # told when a finished job wrote messages to deliver
        self._store = store
        self._stedi = stedi
        self._policy = policy
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._batch = batch
        self._metrics = metrics

    async def _claim(self, limit: int) -> list[Job]:
        return await self._store.claim_due_jobs(
            now=self._clock(),
            lease_seconds=self._lease_seconds,
            limit=limit,
            kinds=(PROCESS_JOB,),
        )

    async def run_once(self) -> int:
        """Claim up to `batch` due jobs and handle them concurrently; return how many."""
        jobs = await self._claim(self._batch)
        if not jobs:
            return 0
        async with anyio.create_task_group() as group:
            for job in jobs:
                group.start_soon(self._handle_safely, job)
        return len(jobs)

    async def run_forever(
        self, *, idle_seconds: float = 1.0, stop: anyio.Event, wakeup: Wakeup | None = None
    ) -> None:
        """Keep up to `max_in_flight` jobs running until `stop`; a finished job or `wakeup`
        (new events) makes it look for more at once, otherwise every `idle_seconds`."""
        await pump(
            name="worker",
            claim=self._claim,
            handle=self._handle_safely,
            max_in_flight=self._max_in_flight,
            idle_seconds=idle_seconds,
            stop=stop,
            wakeup=wakeup or Wakeup(),
        )

    async def _handle_safely(self, job: Job) -> None:
        """`handle`, with any failure turned into a retry and never raised."""
        try:
            await self.handle(job)
        except Exception as exc:
            _log.warning(
                "job.failed", job_id=job.id, event_id=job.event_id, error=type(exc).__name__
            )
            try:
                await self._retry(job, FailureKind.TRANSIENT, type(exc).__name__, None)
            except Exception as again:
                _log.error("job.retry_failed", job_id=job.id, error=type(again).__name__)

    async def handle(self, job: Job) -> None:
        """Process one claimed job: fetch what its event needs, then complete, retry or kill."""
        lease_until = job.lease_until
        if lease_until is None:
            self._outcome("lease_lost", job)
            return
        event = await self._store.fetch_event(job.event_id, with_body=True)
        if event is None:
            await self._kill(job, f"event {job.event_id} not found")
            return
        kind = plan_report(event)
        wants_submission = plan_submission(event)
        report: bytes | None = None
        submission: bytes | None = None
        account = None
        if (kind is not None or wants_submission) and event.account:
            account = await self._store.fetch_account(event.account)
        if kind is None and wants_submission and (account is None or not account.api_key):
            # The 837 file only enriches the claim timeline: without a key, publish as before.
            _log.info("job.submission_skipped", job_id=job.id, reason="no Stedi API key")
            wants_submission = False
        if (kind is not None or wants_submission) and event.transaction_id is not None:
            what = f"{kind} report" if kind is not None else f"{SUBMISSION_SET} output"
            if account is None or not account.api_key:
                name = event.account or "(none)"
                await self._kill(
                    job,
                    f"account {name} has no Stedi API key; add one with "
                    f"receiver accounts add {name} ... --api-key-env VAR, then reprocess the event",
                )
                return
            try:
                if kind is not None:
                    report = await self._stedi.fetch_report(
                        account=account.name,
                        api_key=account.api_key,
                        transaction_id=event.transaction_id,
                        kind=kind,
                        now=self._clock(),
                    )
                else:
                    submission = await self._stedi.fetch_transaction_output(
                        account=account.name,
                        api_key=account.api_key,
                        transaction_id=event.transaction_id,
                        now=self._clock(),
                    )
            except UpstreamError as exc:
                _log.info(
                    "job.upstream_failed",
                    job_id=job.id,
                    event_id=event.id,
                    transaction_id=event.transaction_id,
                    account=account.name,
                    status=exc.status,
                    failure=exc.kind.value,
                )
                await self._retry(job, exc.kind, f"{what}: {exc.reason}", exc.retry_after)
                return
        now = self._clock()
        result = build_result(
            event,
            report=report,
            kind=kind,
            now=now,
            new_message_id=_message_id,
            submission=submission,
        )
        done = await self._store.complete_job(
            job.id, now=now, lease_until=lease_until, result=result
        )
        if not done:
            self._outcome("lease_lost", job)
            return
        self._count("done")
        if result.messages and self._published is not None:
            self._published.notify()
        _log.info(
            "job.done",
            job_id=job.id,
            event_id=event.id,
            transaction_id=event.transaction_id,
            account=event.account,
            messages=len(result.messages),
            claims=len(result.claims),
        )

    async def _retry(
        self, job: Job, kind: FailureKind, reason: str, retry_after: float | None
    ) -> None:
        """Retry later if the policy allows, else kill the job; both keep `reason`."""
        lease_until = job.lease_until
        if lease_until is None:
            return
        now = self._clock()
        decision = decide_retry(
            kind=kind,
            attempts=job.attempts + 1,
            first_attempt_at=job.created_at,
            now=now,
            policy=self._policy,
            retry_after=retry_after,
        )
        if decision.retry and decision.next_attempt_at is not None:
            ok = await self._store.retry_job(
                job.id,
                now=now,
                lease_until=lease_until,
                next_attempt_at=decision.next_attempt_at,
                error=reason,
            )
            if ok:
                self._outcome("retry", job)
            else:
                self._outcome("lease_lost", job)
            return
        await self._kill(job, f"{reason} ({decision.reason})")

    async def _kill(self, job: Job, reason: str) -> None:
        """Give up on the job with `reason`."""
        lease_until = job.lease_until
        if lease_until is None:
            return
        ok = await self._store.kill_job(
            job.id, now=self._clock(), lease_until=lease_until, error=reason
        )
        if ok:
            self._outcome("dead", job)
        else:
            self._outcome("lease_lost", job)

    def _outcome(self, outcome: str, job: Job) -> None:
        """Count and log a job outcome other than done (a warning unless it is a retry)."""
        self._count(outcome)
        log = _log.info if outcome == "retry" else _log.warning
        log(f"job.{outcome}", job_id=job.id, event_id=job.event_id)

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.job_outcomes.labels(outcome).inc()


def _message_id() -> str:
    return new_id("msg")
