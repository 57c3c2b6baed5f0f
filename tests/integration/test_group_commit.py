"""SQLite group commit: concurrent intake shares transactions, failures stay contained."""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from receiver.errors import ConflictError, StoreUnavailableError
from receiver.models import EventFilter, InboundEvent, RecordResult
from receiver.store.base import PROCESS_JOB
from receiver.store.sqlite import SqliteStore
from tests.contract.support import make_event

pytestmark = pytest.mark.anyio


async def opened(path: Path, **options: int) -> SqliteStore:
    store = SqliteStore(path, **options)  # type: ignore[arg-type]
    await store.open()
    return store


async def record_all(store: SqliteStore, count: int, offset: int = 0) -> list[object]:
    """`count` concurrent record_inbound calls; each one's RecordResult or exception."""
    outcomes: list[object] = [None] * count

    async def send(n: int) -> None:
        try:
            outcomes[n] = await store.record_inbound(make_event(offset + n), PROCESS_JOB)
        except Exception as exc:
            outcomes[n] = exc

    async with anyio.create_task_group() as tg:
        for n in range(count):
            tg.start_soon(send, n)
    return outcomes


def writer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("receiver-sqlite-writer")]


async def test_concurrent_callers_share_transactions(tmp_path: Path) -> None:
    store = await opened(tmp_path / "r.db")
    try:
        outcomes = await record_all(store, 100)
        assert all(isinstance(o, RecordResult) and o.created for o in outcomes)
        stats = store.group_commit_stats
        assert stats.items == 100
        assert 1 <= stats.batches < 100
        assert stats.failed_batches == 0
        assert stats.isolated_batches == 0  # no item raised: no batch ran twice
        page = await store.list_events(EventFilter(), limit=500, cursor=None)
        assert len(page.items) == 100
    finally:
        await store.close()


async def test_zero_window_is_one_transaction_per_call(tmp_path: Path) -> None:
    store = await opened(tmp_path / "r.db", group_commit_ms=0)
    try:
        outcomes = await record_all(store, 20)
        assert all(isinstance(o, RecordResult) and o.created for o in outcomes)
        assert (store.group_commit_stats.batches, store.group_commit_stats.items) == (20, 20)
    finally:
        await store.close()


async def test_an_item_error_fails_only_that_item(tmp_path: Path) -> None:
    # A long window: all three land in one batch.
    store = await opened(tmp_path / "r.db", group_commit_ms=200)
    try:
        first = make_event(1)
        same_id = replace(make_event(2), id=first.id)  # new keys, but the id is taken
        third = make_event(3)
        outcomes: dict[str, object] = {}

        async def send(name: str, event: InboundEvent) -> None:
            try:
                outcomes[name] = await store.record_inbound(event, PROCESS_JOB)
            except Exception as exc:
                outcomes[name] = exc

        async with anyio.create_task_group() as tg:
            for name, event in (("first", first), ("same_id", same_id), ("third", third)):
                tg.start_soon(send, name, event)
                await anyio.lowlevel.checkpoint()  # keep arrival order
        assert outcomes["first"] == RecordResult(event_id=first.id, created=True)
        assert isinstance(outcomes["same_id"], ConflictError)
        assert outcomes["third"] == RecordResult(event_id=third.id, created=True)
        assert store.group_commit_stats.batches == 1
        # The batch ran bare, met the conflict, rolled back and ran again item by item: the
        # other two are stored once each, the failed one not at all.
        assert store.group_commit_stats.isolated_batches == 1
        stored = await store.list_events(EventFilter(), limit=50, cursor=None)
        assert sorted(e.id for e in stored.items) == sorted([first.id, third.id])
        # The failed item's keys were rolled back with it.
        retry = make_event(2)
        assert (await store.record_inbound(retry, PROCESS_JOB)).created is True
    finally:
        await store.close()


async def test_failed_batch_fails_its_callers_and_the_next_batch_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    store = await opened(path, busy_timeout_ms=200)
    try:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            outcomes = await record_all(store, 10)
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert all(isinstance(o, StoreUnavailableError) for o in outcomes), outcomes
        assert store.group_commit_stats.failed_batches >= 1
        assert (await store.list_events(EventFilter(), limit=50, cursor=None)).items == []

        # The senders resend after the 503s: stored now, and a second resend is a duplicate.
        after = await record_all(store, 10)
        assert all(isinstance(o, RecordResult) and o.created for o in after), after
        again = await record_all(store, 10)
        assert all(isinstance(o, RecordResult) and not o.created for o in again), again
    finally:
        await store.close()


async def test_close_finishes_pending_calls_and_stops_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    store = await opened(path)
    outcomes: list[object] = []

    async def send(n: int) -> None:
        try:
            outcomes.append(await store.record_inbound(make_event(n), PROCESS_JOB))
        except Exception as exc:
            outcomes.append(exc)

    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for n in range(10):
                    tg.start_soon(send, n)
                await anyio.sleep(0.05)  # one batch on the writer thread, waiting for the lock
                for n in range(10, 20):
                    tg.start_soon(send, n)  # queued behind it
                await anyio.sleep(0.01)
                tg.start_soon(store.close)
                await anyio.sleep(0.01)
                tg.start_soon(send, 20)  # after close began: refused
                await anyio.sleep(0.01)
                other.execute("ROLLBACK")
    finally:
        other.close()
    assert len(outcomes) == 21
    created = [o for o in outcomes if isinstance(o, RecordResult) and o.created]
    refused = [o for o in outcomes if isinstance(o, StoreUnavailableError)]
    assert (len(created), len(refused)) == (20, 1), outcomes
    assert writer_threads() == []
    with pytest.raises(StoreUnavailableError):
        await store.record_inbound(make_event(99), PROCESS_JOB)

    reopened = await opened(path)
    try:
        page = await reopened.list_events(EventFilter(), limit=50, cursor=None)
        assert len(page.items) == 20
    finally:
        await reopened.close()


async def test_cancelled_callers_leave_the_others_and_the_writer_unharmed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.db"
    store = await opened(path)  # busy_timeout 5 s: the batch waits for the lock below
    try:
        results: dict[int, RecordResult] = {}

        async def send(n: int) -> None:
            results[n] = await store.record_inbound(make_event(n), PROCESS_JOB)

        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            async with (
                anyio.create_task_group() as survivors,
                anyio.create_task_group() as doomed,
            ):
                for n in range(3):
                    doomed.start_soon(send, n)
                for n in range(3, 6):
                    survivors.start_soon(send, n)
                await anyio.sleep(0.05)  # that batch is on the writer thread, waiting
                for n in range(6, 9):
                    doomed.start_soon(send, n)  # these wait in the queue
                await anyio.sleep(0.01)
                doomed.cancel_scope.cancel()  # clients that went away mid-wait
                other.execute("ROLLBACK")
        finally:
            other.close()
        assert sorted(results) == [3, 4, 5]
        assert all(r.created for r in results.values())
        # The writer still serves later callers; resends of the cancelled ones are answered
        # (created, or duplicate if their batch had committed them) and stored once.
        later = await record_all(store, 10)
        assert all(isinstance(o, RecordResult) for o in later), later
        page = await store.list_events(EventFilter(), limit=50, cursor=None)
        assert len(page.items) == 10
    finally:
        await store.close()


async def test_the_wal_starts_over_under_steady_intake(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    # Small limits so that a few thousand events cross them many times over.
    store = SqliteStore(
        path, checkpoint_seconds=0.02, wal_limit_frames=50, wal_size_limit_bytes=512 * 1024
    )
    await store.open()
    wal = Path(f"{path}-wal")
    sizes: list[int] = []
    try:
        for round_ in range(80):  # never idle: one batch follows the other
            outcomes = await record_all(store, 32, offset=round_ * 32)
            assert all(isinstance(o, RecordResult) and o.created for o in outcomes)
            sizes.append(os.stat(wal).st_size)
    finally:
        await store.close()
    # Without the held-back second checkpoint the WAL only grows (about 20 KB per event).
    assert max(sizes) < 4 * 1024 * 1024, sizes
    assert min(sizes[40:]) < max(sizes), sizes  # it was cut back, not merely slow to grow
