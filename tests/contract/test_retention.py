"""The retention contract (`Retention`), run against every adapter: old settled events lose
their raw body and documents and keep everything else; nothing owed (a job not done, a
delivery not delivered), nothing newer and no audit row is touched; batches add up; a second
purge finds nothing. One raw-SQL check on SQLite that the file really shrinks."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from receiver.models import (
    AuditEntry,
    AuditFilter,
    DeliveryStatus,
    Document,
    JobResult,
    OutboundMessage,
)
from receiver.store.base import PROCESS_JOB, Store
from receiver.store.retention_sql import PurgeCounts
from receiver.store.sealed import SealedStore
from receiver.store.sqlite import SqliteStore
from tests.contract.fanout_support import settle, subscription
from tests.contract.support import NOW, T0, make_event

pytestmark = pytest.mark.anyio

BEFORE = T0 + timedelta(seconds=50)
PURGED_AT = NOW + timedelta(days=40)
DELIVERED, DEAD, PENDING = DeliveryStatus.DELIVERED, DeliveryStatus.DEAD, DeliveryStatus.PENDING


@dataclass
class Seeded:
    settled: str
    no_job: str
    pending_delivery: str
    dead_delivery: str
    dead_job: str
    pending_job: str
    newer: str


async def finished(store: Store, n: int, *, types: tuple[str, ...] = (), body: bytes = b"") -> str:
    """An event (received at T0 + n s) whose job finished with an 835 and one message per type."""
    event = make_event(n, body=body or make_event(n).body)
    await store.record_inbound(event, PROCESS_JOB)
    (job,) = [
        j
        for j in await store.claim_due_jobs(now=NOW, lease_seconds=30, limit=50)
        if j.event_id == event.id
    ]
    assert job.lease_until is not None
    messages = tuple(
        OutboundMessage(id=f"msg_{event.id}_{t}", type=t, account="acme", data={}, created_at=NOW)
        for t in types
    )
    document = Document("835", f"txn-{n}", b"835 report " * 20)
    result = JobResult(documents=(document,), messages=messages)
    assert await store.complete_job(job.id, now=NOW, lease_until=job.lease_until, result=result)
    return event.id


async def seed(store: Store) -> Seeded:
    sub = subscription(("claim.*",))
    await store.add_subscription(sub)
    settled = await finished(store, 1, types=("claim.a",))
    pending_delivery = await finished(store, 2, types=("claim.b",))
    dead_delivery = await finished(store, 3, types=("claim.c",))
    newer = await finished(store, 100, types=("claim.d",))
    await settle(
        store,
        {
            (sub.id, "claim.a"): DELIVERED,
            (sub.id, "claim.b"): PENDING,
            (sub.id, "claim.c"): DEAD,
            (sub.id, "claim.d"): DELIVERED,
        },
    )
    no_job = make_event(4)
    await store.record_inbound(no_job, None)
    dead = make_event(5)
    await store.record_inbound(dead, PROCESS_JOB)
    (job,) = await store.claim_due_jobs(now=NOW, lease_seconds=30, limit=50)
    assert job.lease_until is not None
    assert await store.kill_job(job.id, now=NOW, lease_until=job.lease_until, error="no key")
    pending = make_event(6)
    await store.record_inbound(pending, PROCESS_JOB)
    return Seeded(
        settled=settled,
        no_job=no_job.id,
        pending_delivery=pending_delivery,
        dead_delivery=dead_delivery,
        dead_job=dead.id,
        pending_job=pending.id,
        newer=newer,
    )


async def body_of(store: Store, event_id: str) -> bytes:
    event = await store.fetch_event(event_id)
    assert event is not None
    assert event.body is not None
    return event.body


async def test_purge_empties_old_settled_events_only(store: Store) -> None:
    seeded = await seed(store)
    audit = AuditEntry(
        id="aud_1", created_at=T0, actor="cli:ops", action="event.read", target=seeded.settled,
        request_id="req-1",
    )  # fmt: skip
    await store.append_audit(audit)
    kept = {name: await body_of(store, event_id) for name, event_id in vars(seeded).items()}
    document_bytes = len(b"835 report " * 20)

    preview = await store.purge_bodies(before=BEFORE, now=PURGED_AT, batch=100, dry_run=True)
    expected = PurgeCounts(
        events=2,
        documents=1,
        bytes=len(kept["settled"]) + len(kept["no_job"]) + document_bytes,
    )
    if isinstance(store, SealedStore):
        # Sealed, the stored bytes are ciphertext: a little more than the plaintext.
        expected = dataclasses.replace(expected, bytes=preview.bytes)
        assert preview.bytes > len(kept["settled"]) + len(kept["no_job"]) + document_bytes
    assert preview == expected
    assert await body_of(store, seeded.settled) == kept["settled"]  # a dry run changes nothing

    done = await store.purge_bodies(before=BEFORE, now=PURGED_AT, batch=100, dry_run=False)
    assert done == expected
    assert await body_of(store, seeded.settled) == b""
    assert await body_of(store, seeded.no_job) == b""
    assert [d.body for d in await store.fetch_documents(seeded.settled)] == [b""]
    for name in ("pending_delivery", "dead_delivery", "dead_job", "pending_job", "newer"):
        assert await body_of(store, getattr(seeded, name)) == kept[name], name
    assert [d.body for d in await store.fetch_documents(seeded.newer)] == [b"835 report " * 20]
    event = await store.fetch_event(seeded.settled, with_body=False)
    assert event is not None
    assert (event.status, event.transaction_id, event.summary) == ("processed", "txn-1", {
        "mode": "test", "n": 1
    })  # fmt: skip
    page = await store.list_audit(AuditFilter(), limit=10, cursor=None)
    assert page.items == [audit]
    again = await store.purge_bodies(before=BEFORE, now=PURGED_AT, batch=100, dry_run=False)
    assert again == PurgeCounts()


async def test_batches_add_up(store: Store) -> None:
    for n in range(1, 6):
        await finished(store, n)
    counts = await store.purge_bodies(before=BEFORE, now=PURGED_AT, batch=2, dry_run=False)
    assert (counts.events, counts.documents) == (5, 5)
    assert await store.purge_bodies(before=BEFORE, now=PURGED_AT, batch=2, dry_run=True) == (
        PurgeCounts()
    )


async def test_nothing_old_enough_is_nothing_purged(store: Store) -> None:
    await finished(store, 100)
    assert await store.purge_bodies(before=BEFORE, now=PURGED_AT, batch=10, dry_run=False) == (
        PurgeCounts()
    )
    assert await store.reclaim_space(convert=True) >= 0


def database_bytes(store: SqliteStore) -> int:
    return sum(
        os.path.getsize(p)
        for p in store.path.parent.iterdir()
        if p.name.startswith(store.path.name)
    )


async def test_sqlite_gives_the_space_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "big.db")
    await store.open()
    try:
        for n in range(1, 41):
            await finished(store, n, body=os.urandom(64 * 1024))  # 2.5 MiB of bodies
        assert await store.reclaim_space(convert=False) == 0  # no VACUUM unless asked
        await store.reclaim_space(convert=True)  # turns incremental vacuum on, once
        full = database_bytes(store)
        purged = await store.purge_bodies(before=BEFORE, now=PURGED_AT, batch=7, dry_run=False)
        assert purged.events == 40
        freed = await store.reclaim_space(convert=False)  # incremental from now on
        assert freed >= 40 * 64 * 1024
        assert database_bytes(store) <= full - 40 * 64 * 1024
        for n in range(41, 44):  # still a working store
            await finished(store, n)
    finally:
        await store.close()
