"""The reprocess contract (`ReprocessQueue`), run against every adapter: one `reprocess` job
per event, started over once finished and never doubled while owed; dead jobs revived by
window, account and kind, counted first, and a second run finds none."""

from __future__ import annotations

from datetime import timedelta

import pytest

from receiver.errors import NotFoundError
from receiver.models import Job, JobFilter
from receiver.store.base import PROCESS_JOB, Store
from receiver.store.reprocess_sql import REPROCESS_JOB, DeadJobFilter, ReprocessCounts
from tests.contract.support import NOW, T0, add_events, claim, make_event

pytestmark = pytest.mark.anyio

LATER = NOW + timedelta(minutes=5)


async def jobs_of(store: Store, event_id: str) -> dict[str, Job]:
    page = await store.list_jobs(JobFilter(event_id=event_id), limit=10, cursor=None)
    return {job.kind: job for job in page.items}


async def kill_all(store: Store) -> None:
    for job in await claim(store, limit=100):
        assert job.lease_until is not None
        assert await store.kill_job(job.id, now=NOW, lease_until=job.lease_until, error="no key")


async def test_queue_adds_one_due_reprocess_job_beside_the_first(store: Store) -> None:
    (event_id,) = await add_events(store, 1)
    assert await store.queue_reprocess(event_id, now=LATER) is True
    jobs = await jobs_of(store, event_id)
    assert set(jobs) == {PROCESS_JOB, REPROCESS_JOB}
    again = jobs[REPROCESS_JOB]
    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, LATER)
    assert await store.queue_reprocess(event_id, now=LATER) is False  # still owed: not doubled
    claimed = await store.claim_due_jobs(
        now=LATER, lease_seconds=30, limit=10, kinds=(REPROCESS_JOB,)
    )
    assert [j.id for j in claimed] == [again.id]
    assert await store.queue_reprocess(event_id, now=LATER) is False  # running: not doubled


async def test_a_finished_reprocess_job_starts_over(store: Store) -> None:
    (event_id,) = await add_events(store, 1)
    await store.queue_reprocess(event_id, now=LATER)
    (job,) = await store.claim_due_jobs(
        now=LATER, lease_seconds=30, limit=10, kinds=(REPROCESS_JOB,)
    )
    assert job.lease_until is not None
    assert await store.kill_job(job.id, now=LATER, lease_until=job.lease_until, error="boom")
    later = LATER + timedelta(minutes=1)
    assert await store.queue_reprocess(event_id, now=later) is True
    restarted = (await jobs_of(store, event_id))[REPROCESS_JOB]
    assert restarted.id == job.id
    assert (restarted.status, restarted.attempts, restarted.last_error) == ("pending", 0, None)
    assert restarted.next_attempt_at == later


async def test_queue_refuses_an_unknown_event(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.queue_reprocess("evt_nope", now=LATER)


async def test_dead_jobs_counted_then_revived_once(store: Store) -> None:
    ids = await add_events(store, 1, 2, 3)
    await store.record_inbound(make_event(4, account="other"), PROCESS_JOB)
    await kill_all(store)
    everything = DeadJobFilter(since=T0, until=LATER)
    assert await store.revive_dead_jobs(everything, now=LATER, dry_run=True) == ReprocessCounts(
        matched=4, revived=0
    )
    for event_id in ids:
        assert (await jobs_of(store, event_id))[PROCESS_JOB].status == "dead"
    acme = DeadJobFilter(since=T0, until=LATER, account="acme", kind=PROCESS_JOB)
    assert await store.revive_dead_jobs(acme, now=LATER, dry_run=False) == ReprocessCounts(
        matched=3, revived=3
    )
    for event_id in ids:
        job = (await jobs_of(store, event_id))[PROCESS_JOB]
        assert (job.status, job.next_attempt_at, job.attempts) == ("pending", LATER, 1)
    assert await store.revive_dead_jobs(acme, now=LATER, dry_run=False) == ReprocessCounts(
        matched=0, revived=0
    )  # run twice, doubles nothing


async def test_dead_jobs_filter_on_window_and_kind(store: Store) -> None:
    await add_events(store, 1, 2, 3)  # jobs created at T0 + 1 s, 2 s, 3 s
    await kill_all(store)
    window = DeadJobFilter(since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=3))
    assert (await store.revive_dead_jobs(window, now=LATER, dry_run=True)).matched == 1
    other_kind = DeadJobFilter(since=T0, until=LATER, kind=REPROCESS_JOB)
    assert (await store.revive_dead_jobs(other_kind, now=LATER, dry_run=True)).matched == 0
