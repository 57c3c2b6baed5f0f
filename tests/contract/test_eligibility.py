"""The eligibility store contract: submissions with their batches, poll state, due batches
claimed once, item results counted once per ec_ id; run against every adapter."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from receiver.eligibility.records import (
    BatchStatus,
    EligibilityBatch,
    EligibilitySubmission,
    Origin,
)
from receiver.errors import ConflictError
from receiver.store.base import Store
from tests.contract.test_store import T0

pytestmark = pytest.mark.anyio


def _submission(sub_id: str = "elb_1", count: int = 3) -> EligibilitySubmission:
    return EligibilitySubmission(sub_id, "acme", Origin.API, count, T0)


def _batch(
    batch_id: str, position: int, *, sub_id: str = "elb_1", due_in: int = 5
) -> EligibilityBatch:
    return EligibilityBatch(
        batch_id=batch_id,
        submission_id=sub_id,
        account="acme",
        position=position,
        item_count=2 if position == 0 else 1,
        submitted_at=T0 + timedelta(seconds=position),
        max_retry_hours=8,
        next_poll_at=T0 + timedelta(seconds=due_in),
    )


async def test_a_submission_reads_back_with_its_batches_in_order(store: Store) -> None:
    await store.add_eligibility_submission(_submission(), [_batch("b-2", 1), _batch("b-1", 0)])

    assert await store.fetch_eligibility_submission("elb_1") == _submission()
    batches = await store.list_eligibility_batches("elb_1")
    assert [b.batch_id for b in batches] == ["b-1", "b-2"]
    assert batches[0] == _batch("b-1", 0)
    assert await store.fetch_eligibility_batch("b-2") == _batch("b-2", 1)
    assert await store.fetch_eligibility_submission("elb_none") is None
    assert await store.fetch_eligibility_batch("b-none") is None


async def test_a_taken_batch_id_stores_nothing(store: Store) -> None:
    await store.add_eligibility_submission(_submission(), [_batch("b-1", 0)])

    with pytest.raises(ConflictError):
        await store.add_eligibility_submission(
            _submission("elb_2"),
            [_batch("b-9", 0, sub_id="elb_2"), _batch("b-1", 1, sub_id="elb_2")],
        )
    assert await store.fetch_eligibility_submission("elb_2") is None
    assert await store.fetch_eligibility_batch("b-9") is None


async def test_due_batches_are_claimed_once_until_their_lease_ends(store: Store) -> None:
    await store.add_eligibility_submission(
        _submission(), [_batch("b-1", 0, due_in=5), _batch("b-2", 1, due_in=50)]
    )
    now = T0 + timedelta(seconds=10)
    lease = now + timedelta(seconds=60)

    claimed = await store.claim_due_eligibility_batches(now=now, lease_until=lease, limit=10)
    assert [b.batch_id for b in claimed] == ["b-1"]
    assert claimed[0].next_poll_at == lease
    assert await store.claim_due_eligibility_batches(now=now, lease_until=lease, limit=10) == []
    later = await store.claim_due_eligibility_batches(
        now=lease, lease_until=lease + timedelta(seconds=60), limit=10
    )
    assert sorted(b.batch_id for b in later) == ["b-1", "b-2"]


async def test_finished_batches_are_never_claimed(store: Store) -> None:
    await store.add_eligibility_submission(_submission(), [_batch("b-1", 0)])
    batch = _batch("b-1", 0)
    await store.save_eligibility_poll(
        dataclasses.replace(batch, status=BatchStatus.COMPLETED, completed_at=T0)
    )

    found = await store.claim_due_eligibility_batches(
        now=T0 + timedelta(days=2), lease_until=T0 + timedelta(days=3), limit=10
    )
    assert found == []


async def test_poll_state_is_saved(store: Store) -> None:
    await store.add_eligibility_submission(_submission(), [_batch("b-1", 0)])
    saved = dataclasses.replace(
        _batch("b-1", 0),
        attempts=2,
        pages_seen=3,
        next_page_token="tok-3",
        last_polled_at=T0 + timedelta(seconds=7),
        next_poll_at=T0 + timedelta(seconds=20),
        reason=None,
    )
    await store.save_eligibility_poll(saved)

    assert await store.fetch_eligibility_batch("b-1") == saved


async def test_each_result_is_counted_once(store: Store) -> None:
    await store.add_eligibility_submission(_submission(), [_batch("b-1", 0), _batch("b-2", 1)])

    assert await store.record_eligibility_result(
        batch_id="b-1", check_id="ec_1", status="active", now=T0
    )
    assert not await store.record_eligibility_result(
        batch_id="b-1", check_id="ec_1", status="active", now=T0
    )
    assert await store.record_eligibility_result(
        batch_id="b-1", check_id="ec_2", status="error", now=T0
    )
    assert await store.record_eligibility_result(
        batch_id="b-2", check_id="ec_3", status="active", now=T0
    )

    assert await store.count_eligibility_results("b-1") == {"active": 1, "error": 1}
    found = await store.fetch_eligibility_batch("b-1")
    assert found is not None
    assert found.stored_results == 2
