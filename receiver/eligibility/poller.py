"""The batch eligibility poller (a shell around `polling.decide_poll`): claim due batches,
fetch their result pages from Stedi, record each result once, publish completed batches."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from receiver.clock import Clock
from receiver.eligibility.events import batch_event, check_event, check_id_of
from receiver.eligibility.polling import (
    Done,
    FetchPage,
    GiveUp,
    PollAt,
    PollState,
    decide_poll,
)
from receiver.eligibility.records import BatchStatus, EligibilityBatch
from receiver.eligibility.schedule import schedule_of
from receiver.eligibility.summary import BatchSummary, CoverageStatus, summarize_check
from receiver.ids import new_id
from receiver.pump import Wakeup
from receiver.store.base import PROCESS_JOB
from receiver.store.ports import EligibilityStageStore
from receiver.upstream.stedi import UpstreamError
from receiver.upstream.stedi_eligibility import StediEligibilityClient

_log = structlog.get_logger("receiver.eligibility.poller")

CLAIM_LIMIT = 10


def poll_state(batch: EligibilityBatch) -> PollState:
    """The pure core's view of a stored batch."""
    return PollState(
        started_at=batch.submitted_at,
        expected_items=batch.item_count,
        stored_results=batch.stored_results,
        attempts=batch.attempts,
        last_polled_at=batch.last_polled_at,
        pages_seen=batch.pages_seen,
        next_page_token=batch.next_page_token,
    )


def batch_summary(batch_id: str, counts: dict[str, int]) -> BatchSummary:
    """A batch's `eligibility.batch.completed` counts from its stored results by status."""
    return BatchSummary(
        batch_id=batch_id,
        total=sum(counts.values()),
        active=counts.get(CoverageStatus.ACTIVE.value, 0),
        inactive=counts.get(CoverageStatus.INACTIVE.value, 0),
        errors=counts.get(CoverageStatus.ERROR.value, 0),
        unknown=counts.get(CoverageStatus.UNKNOWN.value, 0),
    )


class EligibilityPoller:
    """Polls every due batch from its stored state; state is saved after each page."""

    def __init__(
        self,
        *,
        store: EligibilityStageStore,
        client: StediEligibilityClient,
        clock: Clock,
        schedule: str,
        page_size: int = 100,
        lease_seconds: int = 300,
        published: Wakeup | None = None,
        new_event_id: Callable[[], str] = lambda: new_id("evt"),
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._schedule = schedule
        self._page_size = max(1, min(page_size, 200))
        self._lease = timedelta(seconds=lease_seconds)
        self._published = published  # the worker's wake-up: new events to publish
        self._new_event_id = new_event_id

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Poll every batch due now; return how many were claimed."""
        now = self._clock()
        claimed = await self._store.claim_due_eligibility_batches(
            now=now, lease_until=now + self._lease, limit=CLAIM_LIMIT
        )
        for batch in claimed:
            await self._poll_batch(batch, stop)
        return len(claimed)

    async def run_forever(self, stop: asyncio.Event, *, idle_seconds: float) -> None:
        """`run_once` every `idle_seconds` until `stop` is set; failures are logged."""
        while not stop.is_set():
            try:
                await self.run_once(stop)
            except Exception as exc:  # the store may be briefly unavailable
                _log.warning("eligibility.poll_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle_seconds):
                    await stop.wait()

    async def _poll_batch(self, batch: EligibilityBatch, stop: asyncio.Event | None) -> None:
        schedule = schedule_of(self._schedule, batch.max_retry_hours)
        account = await self._store.fetch_account(batch.account)
        while True:
            now = self._clock()
            decision = decide_poll(poll_state(batch), now=now, schedule=schedule)
            if isinstance(decision, Done):
                await self._complete(batch, now)
                return
            if isinstance(decision, GiveUp):
                await self._store.save_eligibility_poll(
                    dataclasses.replace(batch, status=BatchStatus.GIVEN_UP, reason=decision.reason)
                )
                _log.warning("eligibility.batch_given_up", batch_id=batch.batch_id)
                return
            if isinstance(decision, PollAt) and decision.at > now:
                await self._store.save_eligibility_poll(
                    dataclasses.replace(batch, next_poll_at=decision.at)
                )
                return
            if stop is not None and stop.is_set():
                # Leave it due at once for whichever poller runs next.
                await self._store.save_eligibility_poll(
                    dataclasses.replace(batch, next_poll_at=now)
                )
                return
            if account is None or not account.api_key:
                _log.warning("eligibility.account_has_no_key", batch_id=batch.batch_id)
                await self._wait_after_failure(batch, now, schedule.then_every)
                return
            token: str | None = None
            if isinstance(decision, FetchPage):
                token = decision.token
            else:  # a new pass begins
                batch = dataclasses.replace(batch, attempts=batch.attempts + 1, pages_seen=0)
            try:
                page = await self._client.poll_batch(
                    api_key=account.api_key,
                    batch_id=batch.batch_id,
                    page_token=token,
                    page_size=self._page_size,
                )
            except UpstreamError as exc:
                _log.warning(
                    "eligibility.poll_upstream_failed",
                    batch_id=batch.batch_id,
                    status=exc.status,
                    reason=exc.reason,
                )
                first = schedule.delays[0] if schedule.delays else schedule.then_every
                await self._wait_after_failure(batch, now, first)
                return
            created = await self._record_page(batch, page, now)
            refreshed = await self._store.fetch_eligibility_batch(batch.batch_id)
            next_token = page.get("nextPageToken")
            batch = dataclasses.replace(
                batch,
                pages_seen=batch.pages_seen + 1,
                next_page_token=next_token if isinstance(next_token, str) and next_token else None,
                last_polled_at=now,
                stored_results=refreshed.stored_results if refreshed else batch.stored_results,
            )
            await self._store.save_eligibility_poll(batch)
            _log.info(
                "eligibility.page_polled",
                batch_id=batch.batch_id,
                created=created,
                stored=batch.stored_results,
                expected=batch.item_count,
            )

    async def _record_page(
        self, batch: EligibilityBatch, page: dict[str, object], now: datetime
    ) -> int:
        items = page.get("items")
        created = 0
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            item_batch = item.get("batchId")
            if isinstance(item_batch, str) and item_batch != batch.batch_id:
                continue
            check_id = check_id_of(item)
            if check_id is None:
                _log.warning("eligibility.result_without_id", batch_id=batch.batch_id)
                continue
            event = check_event(
                item,
                account=batch.account,
                event_id=self._new_event_id(),
                received_at=now,
                submission_id=batch.submission_id,
            )
            recorded = await self._store.record_inbound(event, PROCESS_JOB)
            await self._store.record_eligibility_result(
                batch_id=batch.batch_id,
                check_id=check_id,
                status=summarize_check(item).status.value,
                now=now,
            )
            if recorded.created:
                created += 1
        if created and self._published is not None:
            self._published.notify()
        return created

    async def _complete(self, batch: EligibilityBatch, now: datetime) -> None:
        counts = await self._store.count_eligibility_results(batch.batch_id)
        summary = batch_summary(batch.batch_id, counts)
        await self._store.record_inbound(
            batch_event(
                summary,
                account=batch.account,
                event_id=self._new_event_id(),
                received_at=now,
                submission_id=batch.submission_id,
            ),
            PROCESS_JOB,
        )
        await self._store.save_eligibility_poll(
            dataclasses.replace(batch, status=BatchStatus.COMPLETED, completed_at=now)
        )
        if self._published is not None:
            self._published.notify()
        _log.info("eligibility.batch_completed", batch_id=batch.batch_id, total=summary.total)

    async def _wait_after_failure(
        self, batch: EligibilityBatch, now: datetime, wait: timedelta
    ) -> None:
        await self._store.save_eligibility_poll(dataclasses.replace(batch, next_poll_at=now + wait))
