"""RECEIVER_RETENTION_DAYS: `serve` runs the purge on a schedule (the first round at start),
as `serve:retention` in the audit trail; off by default."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from receiver.clock import utc_now
from receiver.models import AuditEntry, AuditFilter
from receiver.ops.retention import run_retention
from receiver.store.base import PROCESS_JOB
from receiver.store.sqlite import SqliteStore
from tests.contract.support import NOW, make_event
from tests.integration.builders import on_store
from tests.integration.conftest import StartServer


def purge_rows(path: Path) -> list[AuditEntry]:
    async def read(store: SqliteStore) -> list[AuditEntry]:
        page = await store.list_audit(AuditFilter(action="purge"), limit=10, cursor=None)
        return page.items

    return on_store(path, read)


def test_serve_purges_on_a_schedule_when_asked(start_server: StartServer) -> None:
    server = start_server(run_workers=True, retention_days=30)
    deadline = time.monotonic() + 10
    while not (rows := purge_rows(server.db_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(r.actor, r.action) for r in rows] == [("serve:retention", "purge")]


def test_retention_is_off_by_default(start_server: StartServer) -> None:
    server = start_server(run_workers=True)
    time.sleep(0.5)
    assert purge_rows(server.db_path) == []


@pytest.mark.anyio
async def test_each_round_purges_what_has_grown_old(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.db")
    await store.open()
    try:
        event = make_event(1)  # received in March 2026
        await store.record_inbound(event, PROCESS_JOB)
        (job,) = await store.claim_due_jobs(now=NOW, lease_seconds=30, limit=1)
        assert job.lease_until is not None
        assert await store.complete_job(job.id, now=NOW, lease_until=job.lease_until)
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            run_retention(store, utc_now, days=30, stop=stop, every=0.01)
        )
        async with asyncio.timeout(10):
            while True:
                found = await store.fetch_event(event.id)
                if found is None or not found.body:
                    break
                await asyncio.sleep(0.01)
        stop.set()
        await task
        rows = (await store.list_audit(AuditFilter(action="purge"), limit=50, cursor=None)).items
        assert rows[-1].counts["events"] == 1  # the first round; later ones found nothing
        assert all(r.counts["events"] == 0 for r in rows[:-1])
    finally:
        await store.close()
