"""The read-after-write contract: a read sees every write whose verb returned before the read
was called, however many other reads are in flight, run against every adapter."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import anyio
import pytest

from receiver.models import EventFilter, JobFilter
from receiver.store.base import PROCESS_JOB, Store
from tests.contract.support import T0, make_event

pytestmark = pytest.mark.anyio

ROUNDS = 90


async def keep_reading(store: Store, stop: anyio.Event) -> None:
    """What a metrics scraper, a readiness probe and an ops listing do between writes."""
    while not stop.is_set():
        await store.ping()
        await store.count_jobs_by_status()
        await store.list_events(EventFilter(), limit=50, cursor=None)
        await store.list_jobs(JobFilter(status="running"), limit=50, cursor=None)


class TestReadAfterWrite:
    async def test_the_event_of_a_claimed_job_is_always_found(self, store: Store) -> None:
        """The worker's path: record, claim, then look the event up; other reads overlap."""
        stop = asyncio.Event()
        missing: list[str] = []
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(keep_reading, store, stop)
            for n in range(ROUNDS):
                await store.record_inbound(make_event(n), PROCESS_JOB)
                for job in await store.claim_due_jobs(
                    now=T0 + timedelta(days=1), lease_seconds=60, limit=10
                ):
                    if await store.fetch_event(job.event_id, with_body=True) is None:
                        missing.append(job.event_id)
            stop.set()
        assert missing == []

    async def test_a_finished_job_is_seen_by_the_next_read(self, store: Store) -> None:
        stop = asyncio.Event()
        stale: list[str] = []
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(keep_reading, store, stop)
            for n in range(ROUNDS // 3):
                event = make_event(n)
                await store.record_inbound(event, PROCESS_JOB)
                (job,) = await store.claim_due_jobs(
                    now=T0 + timedelta(days=1), lease_seconds=60, limit=10
                )
                assert job.lease_until is not None
                assert await store.complete_job(
                    job.id, now=T0 + timedelta(days=1), lease_until=job.lease_until
                )
                page = await store.list_jobs(JobFilter(event_id=event.id), limit=1, cursor=None)
                if [j.status for j in page.items] != ["done"]:
                    stale.append(job.id)
            stop.set()
        assert stale == []
