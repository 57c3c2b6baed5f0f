"""Cross-process wake-ups: on PostgreSQL a listener hears committed jobs and deliveries from
another connection; on SQLite `listen` is a harmless no-op (workers poll)."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from receiver.models import JobResult
from receiver.store.base import Store
from receiver.store.postgres import PostgresStore
from tests.contract.fanout_support import msg, subscription
from tests.contract.support import claimed_job, complete

pytestmark = pytest.mark.anyio


async def test_listeners_hear_work_committed_elsewhere(store: Store) -> None:
    heard: list[str] = []
    got = asyncio.Event()

    def hear(topic: str) -> None:
        heard.append(topic)
        got.set()

    stop = await store.listen(on_jobs=lambda: hear("jobs"), on_deliveries=lambda: hear("dlv"))
    try:
        await store.add_subscription(subscription(("*",)))
        job = await claimed_job(store, 1)  # records an event with a pending job
        assert await complete(store, job, JobResult(messages=(msg("a.b"),)))
        if isinstance(store, PostgresStore):
            with anyio.fail_after(5):
                while "dlv" not in heard:
                    await got.wait()
                    got.clear()
            assert heard.count("jobs") == 1
        else:
            await asyncio.sleep(0.05)
            assert heard == []
    finally:
        await stop()
    await stop()  # stopping twice is harmless
