"""Intake under concurrency: dedup holds among writes that arrive together (one batch)."""

from __future__ import annotations

import anyio
import pytest

from receiver.models import EventFilter, JobFilter, RecordResult
from receiver.store.base import PROCESS_JOB, Store
from tests.contract.support import make_event

pytestmark = pytest.mark.anyio


async def test_fifty_concurrent_with_shared_keys_create_one_per_key(store: Store) -> None:
    # Events 0..49; every key shared by five events (one batch on SQLite, racing on PostgreSQL).
    events = [make_event(n, keys=(f"k{n % 10}", f"own-{n}")) for n in range(50)]
    results: dict[int, RecordResult] = {}

    async def send(n: int) -> None:
        results[n] = await store.record_inbound(events[n], PROCESS_JOB)

    async with anyio.create_task_group() as tg:
        for n in range(50):
            tg.start_soon(send, n)

    for key in range(10):
        group = [results[n] for n in range(key, 50, 10)]
        assert sum(r.created for r in group) == 1, key
        assert len({r.event_id for r in group}) == 1, key
        (winner,) = [r for r in group if r.created]
        assert await store.fetch_event(winner.event_id) is not None
    stored = await store.list_events(EventFilter(), limit=100, cursor=None)
    assert len(stored.items) == 10
    jobs = await store.list_jobs(JobFilter(), limit=100, cursor=None)
    assert sorted(j.event_id for j in jobs.items) == sorted(e.id for e in stored.items)
    # The losers' own keys were not stored: each is new now.
    loser = next(n for n in range(50) if not results[n].created)
    again = make_event(100, keys=(f"own-{loser}",))
    assert (await store.record_inbound(again, PROCESS_JOB)).created is True
