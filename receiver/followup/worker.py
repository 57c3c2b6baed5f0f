"""The follow-up worker: claim due jobs, fetch Stedi reports and submitted 837s, store results
and messages."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Protocol

import structlog

from receiver.clock import Clock
from receiver.errors import ConflictError, StoreUnavailableError
from receiver.followup.plan import (
    SUBMISSION_SET,
    DocumentVersion,
    FetchDocument,
    FetchPlan,
    KillJob,
    UseDocument,
    build_result,
    document_version,
    needs_body,
    parse_problems,
    plan_fetch,
    wanted_document,
)
from receiver.metrics import Metrics
from receiver.models import Document, Job, JobResult, RequeueCounts, StoredEvent
from receiver.policy import FailureKind, RetryPolicy, decide_retry
from receiver.pump import Wakeup, pump
from receiver.store.base import PROCESS_JOB
from receiver.store.ports import FollowUpStore
from receiver.store.reprocess_sql import REPROCESS_JOB
from receiver.upstream.stedi import StediClient, TransactionArtifact, UpstreamError

_log = structlog.get_logger("receiver.followup.worker")


class Republish(Protocol):
    """Sends an event's published messages again (`requeue_event_deliveries`)."""

    async def __call__(self, event_id: str, *, now: datetime) -> RequeueCounts:
        """Delivered and dead deliveries of the event's messages back to pending."""


class Worker:
    """Claims due `process` and `reprocess` jobs and finishes each: done, retry later, or
    dead. A `reprocess` job fetches its document again even when a copy is stored."""

    def __init__(
        self,
        *,
        store: FollowUpStore,
        stedi: StediClient,
        policy: RetryPolicy,
        clock: Clock,
        lease_seconds: int = 300,
        batch: int = 10,
        max_in_flight: int = 32,
        metrics: Metrics | None = None,
        published: Wakeup | None = None,
        republish: Republish | None = None,
    ) -> None:
        # A finished `reprocess` job sends its event's messages again through it (same ids).
        self._republish = republish
        self._max_in_flight = max(1, max_in_flight)
        # Told when a finished job wrote messages to deliver; nobody waits on the default.
        self._published = published or Wakeup()
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
            kinds=(PROCESS_JOB, REPROCESS_JOB),
        )

    async def run_once(self) -> int:
        """Claim up to `batch` due jobs and handle them concurrently; return how many."""
        jobs = await self._claim(self._batch)
        if not jobs:
            return 0
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(self._handle_safely(job))
        return len(jobs)

    async def run_forever(
        self, *, idle_seconds: float = 1.0, stop: asyncio.Event, wakeup: Wakeup | None = None
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
        event = await self._store.fetch_event(job.event_id, with_body=False)
        if event is not None and needs_body(event):
            event = await self._store.fetch_event(job.event_id, with_body=True)
        if event is None:
            # A job is stored in its event's transaction, so a missing event is a read that
            # did not see it: transient, never a reason to give up at first sight.
            await self._retry(job, FailureKind.TRANSIENT, "event not found", None)
            return
        plan, stored = await self._plan(job, event)
        if isinstance(plan, KillJob):
            await self._kill(job, plan.reason)
            return
        document = plan.body if isinstance(plan, UseDocument) else await self._fetch(job, plan)
        if document is None and isinstance(plan, FetchDocument):
            return  # retried or killed
        version = document_version(stored, document)
        if version.changed:
            _log.info(
                "job.document_changed", job_id=job.id, event_id=event.id, revision=version.revision
            )
        await self._complete(job, event, lease_until, document, version)

    async def _plan(self, job: Job, event: StoredEvent) -> tuple[FetchPlan, Document | None]:
        """Read what planning needs (the newest document stored for the event's account and
        transaction, else the account), then plan; the stored copy is what a reprocess's fetch
        is compared against, and whose version a job that reuses it finishes with."""
        wanted = wanted_document(event)
        if wanted is None:
            return plan_fetch(event, None, stored=None), None
        stored = await self._store.fetch_transaction_document(
            event.account, wanted.transaction_id, wanted.kind
        )
        if stored is not None and job.kind != REPROCESS_JOB:
            _log.info("job.document_stored_already", job_id=job.id, kind=wanted.kind)
            return plan_fetch(event, None, stored=stored.body), stored
        account = await self._store.fetch_account(event.account) if event.account else None
        return plan_fetch(event, account, stored=None), stored

    async def _fetch(self, job: Job, plan: FetchDocument) -> bytes | None:
        """The wanted report or 837 X12 from Stedi; None once the job has been retried."""
        wanted = plan.wanted
        try:
            if wanted.report is not None:
                return await self._stedi.fetch_report(
                    account=plan.account,
                    api_key=plan.api_key,
                    transaction_id=wanted.transaction_id,
                    kind=wanted.report,
                    now=self._clock(),
                )
            return await self._stedi.fetch_transaction_output(
                account=plan.account,
                api_key=plan.api_key,
                transaction_id=wanted.transaction_id,
                now=self._clock(),
                artifact=wanted.artifact or TransactionArtifact.OUTPUT,
            )
        except UpstreamError as exc:
            _log.info(
                "job.upstream_failed",
                job_id=job.id,
                event_id=job.event_id,
                transaction_id=wanted.transaction_id,
                account=plan.account,
                status=exc.status,
                failure=exc.kind.value,
            )
            what = (
                f"{wanted.report} report"
                if wanted.report is not None
                else f"{SUBMISSION_SET} {wanted.artifact}"
            )
            await self._retry(job, exc.kind, f"{what}: {exc.reason}", exc.retry_after)
            return None

    async def _complete(
        self,
        job: Job,
        event: StoredEvent,
        lease_until: datetime,
        document: bytes | None,
        version: DocumentVersion,
    ) -> None:
        """Store the job's result (a changed document as its next revision, with new ids for
        the messages read from it) and mark it done, unless its lease was lost meanwhile."""
        wanted = wanted_document(event)
        is_report = wanted is not None and wanted.report is not None
        now = self._clock()
        result = build_result(
            event,
            report=document if is_report else None,
            kind=wanted.report if wanted is not None else None,
            now=now,
            submission=document if wanted is not None and not is_report else None,
            content_digest=version.content_digest,
            revision=version.revision,
        )
        done = await self._store.complete_job(
            job.id, now=now, lease_until=lease_until, result=result
        )
        if not done:
            self._outcome("lease_lost", job)
            return
        self._count("done")
        self._report_unreadable(job, result)
        if job.kind == REPROCESS_JOB:
            await self._send_again(job, now)
        if result.messages:
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

    async def _send_again(self, job: Job, now: datetime) -> None:
        """After a reprocess: its event's delivered and dead deliveries go out again, with the
        same webhook-ids (the same content built the same message ids)."""
        if self._republish is None:
            return
        try:
            counts = await self._republish(job.event_id, now=now)
        except ConflictError:
            return  # the event publishes nothing
        except StoreUnavailableError as exc:  # the job is done; `events redeliver` can resend
            _log.warning("job.republish_failed", job_id=job.id, error=type(exc).__name__)
            return
        if counts.requeued:
            self._published.notify()
        _log.info("job.republished", job_id=job.id, event_id=job.event_id, requeued=counts.requeued)

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
        if outcome == "retry":
            _log.info("job.retry", job_id=job.id, event_id=job.event_id)
        elif outcome == "dead":
            _log.warning("job.dead", job_id=job.id, event_id=job.event_id)
        else:
            _log.warning("job.lease_lost", job_id=job.id, event_id=job.event_id)

    def _report_unreadable(self, job: Job, result: JobResult) -> None:
        """A warning line (ids and our own reason, no content) and a count per unreadable part
        the job published."""
        for problem in parse_problems(result):
            if self._metrics is not None:
                self._metrics.parse_errors.labels(problem.document).inc()
            _log.warning(
                "document.parse_failed",
                job_id=job.id,
                event_id=job.event_id,
                document=problem.document,
                index=problem.index,
                reason=problem.reason,
            )

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.job_outcomes.labels(outcome).inc()
