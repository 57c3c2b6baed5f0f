"""The reprocess contract (`ReprocessQueue`), run against every adapter: one `reprocess` job
per event, started over once finished and never doubled while owed; dead jobs revived by
window, account and kind, listed first, each revived once, and a second run finds none."""

from __future__ import annotations

from datetime import timedelta

import pytest

from receiver.errors import NotFoundError
from receiver.models import Actor, AuditFilter, Job, JobFilter
from receiver.ops.reprocess import reprocess_dead_jobs
from receiver.store.base import PROCESS_JOB, Store
from receiver.store.reprocess_sql import REPROCESS_JOB, DeadJobFilter
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


async def test_dead_jobs_listed_then_revived_once(store: Store) -> None:
    ids = await add_events(store, 1, 2, 3)
    await store.record_inbound(make_event(4, account="other"), PROCESS_JOB)
    await kill_all(store)
    everything = DeadJobFilter(since=T0, until=LATER)
    assert len(await store.dead_job_ids(everything)) == 4
    for event_id in ids:
        assert (await jobs_of(store, event_id))[
            PROCESS_JOB
        ].status == "dead"  # listing changes nothing
    acme = DeadJobFilter(since=T0, until=LATER, account="acme", kind=PROCESS_JOB)
    found = await store.dead_job_ids(acme)
    expected = [(await jobs_of(store, e))[PROCESS_JOB].id for e in ids]
    assert found == expected  # oldest first
    assert await store.revive_dead_jobs(found, now=LATER) == 3
    for event_id in ids:
        job = (await jobs_of(store, event_id))[PROCESS_JOB]
        assert (job.status, job.next_attempt_at, job.attempts) == ("pending", LATER, 1)
    assert await store.revive_dead_jobs(found, now=LATER) == 0  # no longer dead: not doubled
    assert await store.dead_job_ids(acme) == []  # run twice, the second finds none
    assert await store.revive_dead_jobs([], now=LATER) == 0


async def test_revive_leaves_jobs_that_are_not_dead(store: Store) -> None:
    (event_id,) = await add_events(store, 1)
    job = (await jobs_of(store, event_id))[PROCESS_JOB]
    assert await store.revive_dead_jobs([job.id, "job_nope"], now=LATER) == 0
    assert (await jobs_of(store, event_id))[PROCESS_JOB].status == "pending"


async def test_dead_jobs_filter_on_window_and_kind(store: Store) -> None:
    await add_events(store, 1, 2, 3)  # jobs created at T0 + 1 s, 2 s, 3 s
    await kill_all(store)
    window = DeadJobFilter(since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=3))
    assert len(await store.dead_job_ids(window)) == 1
    other_kind = DeadJobFilter(since=T0, until=LATER, kind=REPROCESS_JOB)
    assert await store.dead_job_ids(other_kind) == []


async def test_a_bulk_reprocess_revives_in_chunks_with_progress_and_one_audit_row(
    store: Store,
) -> None:
    await add_events(store, 1, 2, 3)
    await kill_all(store)
    heard: list[tuple[int, int]] = []
    everything = DeadJobFilter(since=T0, until=LATER)
    actor = Actor(who="cli:tester", request_id="req_1")
    answer = await reprocess_dead_jobs(
        store,
        everything,
        now=LATER,
        dry_run=False,
        actor=actor,
        progress=lambda done, total: heard.append((done, total)),
        chunk=2,
    )
    assert answer == {"revived": 3}
    assert heard == [(0, 3), (2, 3), (3, 3)]
    rows = (
        await store.list_audit(AuditFilter(action="jobs.reprocess"), limit=10, cursor=None)
    ).items
    assert [(r.actor, r.counts) for r in rows] == [("cli:tester", {"revived": 3})]
