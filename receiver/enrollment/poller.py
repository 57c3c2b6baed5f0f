"""The ERA enrollment poller (a shell around `polling.decide_poll`): claim due submissions,
fetch each one's result from Optum, and store and publish a final one once. Poll state is
saved after every poll, so a restart resumes where it was."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from receiver.clock import Clock
from receiver.enrollment.events import result_event
from receiver.enrollment.polling import (
    ERA_POLL_POLICY,
    PollAction,
    PollOutcome,
    decide_poll,
    outcome_of,
    outcome_of_failure,
)
from receiver.enrollment.results import (
    ResultStatus,
    ResultSummary,
    UnreadableResultError,
    completed_message_data,
    read_result_summary,
)
from receiver.enrollment.submissions import EraSubmission, SubmissionStatus
from receiver.ids import new_id
from receiver.policy import RetryPolicy
from receiver.pump import Wakeup
from receiver.store.base import PROCESS_JOB
from receiver.store.ports import EnrollmentStageStore
from receiver.upstream.optum import OptumClient, OptumConnection, OptumError

_log = structlog.get_logger("receiver.enrollment.poller")

CLAIM_LIMIT = 10


@dataclasses.dataclass(frozen=True, slots=True)
class PollRead:
    """What one poll found: a result summary, or a failure's outcome and details."""

    outcome: PollOutcome
    summary: ResultSummary | None = None
    reason: str | None = None
    trace_id: str | None = None
    retry_after: float | None = None


def next_state(
    submission: EraSubmission,
    read: PollRead,
    *,
    now: datetime,
    policy: RetryPolicy = ERA_POLL_POLICY,
    random: Callable[[], float] | None = None,
) -> tuple[EraSubmission, PollAction]:
    """The submission after a poll (pure): polled again at a time, done, or dead with the
    reason; the trace id of the last failure is kept for Optum support."""
    attempts = submission.attempts + 1
    streak = submission.not_found_streak + 1 if read.outcome is PollOutcome.NOT_FOUND else 0
    extra = {} if random is None else {"random": random}
    decision = decide_poll(
        outcome=read.outcome,
        attempts=attempts,
        first_poll_at=submission.first_poll_at or submission.created_at,
        now=now,
        policy=policy,
        retry_after=read.retry_after,
        not_found_streak=streak,
        **extra,
    )
    polled = dataclasses.replace(
        submission,
        attempts=attempts,
        not_found_streak=streak,
        last_polled_at=now,
        trace_id=read.trace_id or submission.trace_id,
    )
    if decision.action is PollAction.POLL:
        reason = read.reason or decision.reason
        return dataclasses.replace(polled, next_poll_at=decision.at, reason=reason), decision.action
    if decision.action is PollAction.DEAD:
        reason = decision.reason if read.reason is None else f"{decision.reason}: {read.reason}"
        dead = dataclasses.replace(
            polled, status=SubmissionStatus.DEAD, next_poll_at=None, reason=reason
        )
        return dead, decision.action
    assert read.summary is not None  # noqa: S101 - DONE follows a result only
    status = (
        SubmissionStatus.COMPLETE
        if read.summary.status is ResultStatus.COMPLETE
        else SubmissionStatus.ERRORED
    )
    data = completed_message_data(read.summary, payload_id=submission.payload_id or "")
    data["submission_id"] = submission.id
    done = dataclasses.replace(
        polled,
        status=status,
        next_poll_at=None,
        reason=read.summary.status.value,
        result=data,
        completed_at=now,
    )
    return done, decision.action


class EnrollmentPoller:
    """Polls every due ERA enrollment submission from its stored state."""

    def __init__(
        self,
        *,
        store: EnrollmentStageStore,
        client: OptumClient,
        clock: Clock,
        lease_seconds: int = 300,
        policy: RetryPolicy = ERA_POLL_POLICY,
        published: Wakeup | None = None,
        new_event_id: Callable[[], str] = lambda: new_id("evt"),
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._policy = policy
        self._published = published  # the worker's wake-up: new events to publish
        self._new_event_id = new_event_id

    async def run_once(self) -> int:
        """Poll every submission due now; return how many were claimed."""
        now = self._clock()
        claimed = await self._store.claim_due_era_submissions(
            now=now, lease_until=now + self._lease, limit=CLAIM_LIMIT
        )
        for submission in claimed:
            await self.poll(submission)
        return len(claimed)

    async def run_forever(self, stop: asyncio.Event, *, idle_seconds: float) -> None:
        """`run_once` every `idle_seconds` until `stop` is set; failures are logged."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # the store may be briefly unavailable
                _log.warning("enrollment.poll_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle_seconds):
                    await stop.wait()

    async def poll(self, submission: EraSubmission) -> EraSubmission:
        """Poll one submission once and save what follows; the submission as saved."""
        stored = await self._store.fetch_optum_connection(submission.connection)
        if stored is None or submission.payload_id is None:
            dead = dataclasses.replace(
                submission,
                status=SubmissionStatus.DEAD,
                next_poll_at=None,
                reason="the Optum connection was removed",
            )
            await self._store.save_era_submission(dead)
            await self._store.settle_era_records(submission.id, rejected=None)
            return dead
        read = await self._read(stored.connection, submission.payload_id)
        now = self._clock()
        after, action = next_state(submission, read, now=now, policy=self._policy)
        if action is PollAction.DONE and after.result is not None:
            event = result_event(
                after.result,
                tenant_id=stored.connection.tenant_id,
                payload_id=submission.payload_id,
                event_id=self._new_event_id(),
                now=now,
            )
            await self._store.record_inbound(event, PROCESS_JOB)
            rejected = None
            if read.summary is not None and read.summary.status is ResultStatus.COMPLETE:
                rejected = frozenset(r.ref.fingerprint for r in read.summary.rejected_records)
            await self._store.settle_era_records(submission.id, rejected=rejected)
            if self._published is not None:
                self._published.notify()
            _log.info("enrollment.completed", submission_id=submission.id, status=after.status)
        elif action is PollAction.DEAD:
            await self._store.settle_era_records(submission.id, rejected=None)
            _log.warning(
                "enrollment.dead",
                submission_id=submission.id,
                reason=after.reason,
                trace_id=after.trace_id,
            )
        else:
            _log.info("enrollment.polled", submission_id=submission.id, outcome=read.outcome)
        await self._store.save_era_submission(after)
        return after

    async def _read(self, connection: OptumConnection, payload_id: str) -> PollRead:
        try:
            document = await self._client.fetch_era_result(connection, payload_id)
        except OptumError as exc:
            return PollRead(
                outcome_of_failure(exc.kind),
                reason=exc.reason,
                trace_id=exc.trace_id,
                retry_after=exc.retry_after,
            )
        try:
            summary = read_result_summary(document)
        except UnreadableResultError as exc:
            return PollRead(PollOutcome.TRANSIENT_FAILURE, reason=str(exc))
        return PollRead(outcome_of(summary), summary=summary)
