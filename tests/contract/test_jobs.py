"""The job-queue contract: claiming with leases, finishing under the lease guard, and
concurrent claimers, run against every adapter."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from receiver.models import Job
from receiver.store.base import MAX_ERROR_CHARS, PROCESS_JOB, Store
from tests.contract.support import (
    LEASE,
    NOW,
    add_events,
    claim,
    event_status,
    job_of,
)

pytestmark = pytest.mark.anyio


class TestClaim:
    async def test_claims_due_pending_jobs_only_and_leases_them(self, store: Store) -> None:
        due = await add_events(store, 1, 2)
        future = await add_events(store, 500)
        claimed = await claim(store)
        assert [j.event_id for j in claimed] == due
        for job in claimed:
            assert (job.status, job.attempts) == ("running", 0)
            assert job.lease_until == NOW + timedelta(seconds=LEASE)
            assert job.updated_at == NOW
            assert await job_of(store, job.event_id) == job
        assert (await job_of(store, future[0])).status == "pending"

    async def test_second_claim_at_the_same_time_gets_nothing(self, store: Store) -> None:
        await add_events(store, 1)
        assert len(await claim(store)) == 1
        assert await claim(store) == []
        assert await claim(store, NOW + timedelta(seconds=LEASE)) == []  # lease not yet past

    async def test_expired_lease_makes_the_job_claimable_again(self, store: Store) -> None:
        (event_id,) = await add_events(store, 1)
        (first,) = await claim(store)
        later = NOW + timedelta(seconds=LEASE, microseconds=1)
        (again,) = await claim(store, later)
        assert again.id == first.id
        assert again.event_id == event_id
        assert again.lease_until == later + timedelta(seconds=LEASE)
        assert again.attempts == 0

    async def test_limit_and_oldest_first(self, store: Store) -> None:
        ids = await add_events(store, 5, 3, 1, 4, 2)  # inserted out of due order
        by_n = dict(zip((5, 3, 1, 4, 2), ids, strict=True))
        first = await claim(store, limit=2)
        assert [j.event_id for j in first] == [by_n[1], by_n[2]]
        second = await claim(store, limit=2)
        assert [j.event_id for j in second] == [by_n[3], by_n[4]]
        assert [j.event_id for j in await claim(store, limit=2)] == [by_n[5]]

    async def test_kinds_filter(self, store: Store) -> None:
        (wanted,) = await add_events(store, 1)
        (other,) = await add_events(store, 2, kind="other")
        claimed = await store.claim_due_jobs(
            now=NOW, lease_seconds=LEASE, limit=10, kinds=(PROCESS_JOB,)
        )
        assert [j.event_id for j in claimed] == [wanted]
        assert (await job_of(store, other)).status == "pending"

    async def test_concurrent_claimers_never_share_a_job(self, store: Store) -> None:
        ids = await add_events(store, *range(1, 21))
        got: list[list[Job]] = [[] for _ in range(4)]

        async def worker(mine: list[Job]) -> None:
            while True:
                batch = await claim(store, limit=3)
                if not batch:
                    return
                mine.extend(batch)

        async with anyio.create_task_group() as tg:
            for mine in got:
                tg.start_soon(worker, mine)
        claimed = [job.event_id for mine in got for job in mine]
        assert len(claimed) == 20
        assert sorted(claimed) == sorted(ids)


class TestFinish:
    async def test_complete_with_the_lease(self, store: Store) -> None:
        (event_id,) = await add_events(store, 1)
        (job,) = await claim(store)
        assert job.lease_until is not None
        done_at = NOW + timedelta(seconds=5)
        assert await store.complete_job(job.id, now=done_at, lease_until=job.lease_until)
        stored = await job_of(store, event_id)
        assert (stored.status, stored.attempts, stored.lease_until, stored.last_error) == (
            "done",
            1,
            None,
            None,
        )
        assert stored.updated_at == done_at
        assert await event_status(store, event_id) == "processed"
        # Done is final: a second completion and a claim find nothing.
        assert not await store.complete_job(job.id, now=done_at, lease_until=job.lease_until)
        assert await claim(store, NOW + timedelta(days=1)) == []

    async def test_stale_lease_after_reclaim_changes_nothing(self, store: Store) -> None:
        (event_id,) = await add_events(store, 1)
        (stale,) = await claim(store)
        (current,) = await claim(store, NOW + timedelta(seconds=LEASE + 1))
        assert stale.lease_until is not None
        assert current.lease_until != stale.lease_until
        later = NOW + timedelta(seconds=LEASE + 2)
        assert not await store.complete_job(stale.id, now=later, lease_until=stale.lease_until)
        assert not await store.retry_job(
            stale.id,
            now=later,
            lease_until=stale.lease_until,
            next_attempt_at=later,
            error="boom",
        )
        assert not await store.kill_job(
            stale.id, now=later, lease_until=stale.lease_until, error="boom"
        )
        assert await job_of(store, event_id) == current
        assert await event_status(store, event_id) == "received"

    async def test_unknown_job_is_false(self, store: Store) -> None:
        assert not await store.complete_job("job_nope", now=NOW, lease_until=NOW)
        assert not await store.revive_job("job_nope", now=NOW)

    async def test_retry_sets_pending_with_error_and_next_attempt(self, store: Store) -> None:
        (event_id,) = await add_events(store, 1)
        (job,) = await claim(store)
        assert job.lease_until is not None
        retry_at = NOW + timedelta(minutes=5)
        error = "x" * (MAX_ERROR_CHARS + 500)
        assert await store.retry_job(
            job.id, now=NOW, lease_until=job.lease_until, next_attempt_at=retry_at, error=error
        )
        stored = await job_of(store, event_id)
        assert (stored.status, stored.attempts, stored.lease_until) == ("pending", 1, None)
        assert stored.next_attempt_at == retry_at
        assert stored.last_error == "x" * MAX_ERROR_CHARS
        assert await event_status(store, event_id) == "received"
        assert await claim(store, retry_at - timedelta(microseconds=1)) == []
        (again,) = await claim(store, retry_at)
        assert (again.id, again.attempts) == (job.id, 1)

    async def test_kill_then_revive(self, store: Store) -> None:
        (event_id,) = await add_events(store, 1)
        (job,) = await claim(store)
        assert job.lease_until is not None
        assert not await store.revive_job(job.id, now=NOW)  # running, not dead
        assert await store.kill_job(job.id, now=NOW, lease_until=job.lease_until, error="gave up")
        dead = await job_of(store, event_id)
        assert (dead.status, dead.attempts, dead.lease_until, dead.last_error) == (
            "dead",
            1,
            None,
            "gave up",
        )
        assert await event_status(store, event_id) == "failed"
        assert await claim(store, NOW + timedelta(days=1)) == []

        revived_at = NOW + timedelta(hours=1)
        assert await store.revive_job(job.id, now=revived_at)
        revived = await job_of(store, event_id)
        assert (revived.status, revived.attempts) == ("pending", 1)
        assert revived.next_attempt_at == revived_at
        assert not await store.revive_job(job.id, now=revived_at)  # no longer dead
        (again,) = await claim(store, revived_at)
        assert again.id == job.id


async def test_count_jobs_by_status(store: Store) -> None:
    """Queue depth for /metrics: one GROUP BY, absent statuses left out."""
    assert await store.count_jobs_by_status() == {}
    await add_events(store, 1, 2, 3)
    claimed = await claim(store, limit=1)
    assert len(claimed) == 1
    assert await store.count_jobs_by_status() == {"pending": 2, "running": 1}
