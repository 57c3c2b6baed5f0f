"""Builders the store contract tests share: events, claimed jobs, completions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from receiver.ids import new_id
from receiver.models import (
    InboundEvent,
    Job,
    JobFilter,
    JobResult,
    Source,
)
from receiver.store.base import PROCESS_JOB, Store

T0 = datetime(2026, 3, 14, 15, 0, 0, 123456, tzinfo=UTC)


def make_event(
    n: int = 0, *, keys: tuple[str, ...] | None = None, **changes: object
) -> InboundEvent:
    event = InboundEvent(
        id=new_id("evt"),
        source=Source.STEDI,
        type="transaction.processed.v2",
        account="acme",
        external_id=f"ext-{n}",
        dedup_keys=keys or (f"stedi:event:ext-{n}",),
        body=b'{"id": "ext-%d",  "odd":  "\\u00e9 spacing kept" }' % n,
        headers={"content-type": "application/json", "user-agent": "test"},
        received_at=T0 + timedelta(seconds=n),
        transaction_id=f"txn-{n}",
        transaction_set="835",
        direction="INBOUND",
        summary={"mode": "test", "n": n},
    )
    return replace(event, **changes)  # type: ignore[arg-type]


LEASE = 30


NOW = T0 + timedelta(seconds=100)


async def add_events(store: Store, *ns: int, kind: str = PROCESS_JOB) -> list[str]:
    """Record one event (with a job of `kind`) per n, received (and so due) at T0 + n s."""
    ids = []
    for n in ns:
        event = make_event(n)
        await store.record_inbound(event, kind)
        ids.append(event.id)
    return ids


async def job_of(store: Store, event_id: str) -> Job:
    page = await store.list_jobs(JobFilter(event_id=event_id), limit=10, cursor=None)
    assert len(page.items) == 1
    return page.items[0]


async def event_status(store: Store, event_id: str) -> str:
    event = await store.fetch_event(event_id, with_body=False)
    assert event is not None
    return event.status


async def claim(store: Store, now: datetime = NOW, limit: int = 10) -> list[Job]:
    return await store.claim_due_jobs(now=now, lease_seconds=LEASE, limit=limit)


async def claimed_job(store: Store, n: int = 1) -> Job:
    (event_id,) = await add_events(store, n)
    # Due at T0 + n s: the shared event counter of fanout_support passes 100 in a long run.
    due = max(NOW, T0 + timedelta(seconds=n))
    jobs = [job for job in await claim(store, now=due) if job.event_id == event_id]
    assert len(jobs) == 1
    assert jobs[0].lease_until is not None
    return jobs[0]


async def complete(store: Store, job: Job, result: JobResult) -> bool:
    assert job.lease_until is not None
    return await store.complete_job(
        job.id, now=NOW + timedelta(seconds=1), lease_until=job.lease_until, result=result
    )
