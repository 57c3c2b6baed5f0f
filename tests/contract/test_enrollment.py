"""The enrollment contract: Optum connections, ERA submissions, their poll claims and the
once-only records, run against every adapter."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from receiver.enrollment.submissions import (
    EraSubmission,
    RecordState,
    StoredConnection,
    SubmissionStatus,
)
from receiver.errors import ConflictError
from receiver.store.base import Store
from receiver.upstream.optum import OptumConnection
from tests.contract.test_store import T0

pytestmark = pytest.mark.anyio


def _connection(name: str = "acme", secret: str = "s3cret") -> StoredConnection:  # noqa: S107
    return StoredConnection(
        OptumConnection(name=name, tenant_id="tenant-1", client_id="cid", client_secret=secret),
        created_at=T0,
    )


def _submission(submission_id: str, **changes: object) -> EraSubmission:
    base = EraSubmission(
        id=submission_id,
        connection="acme",
        record_count=2,
        created_at=T0,
        status=SubmissionStatus.POLLING,
        payload_id="p-1",
        first_poll_at=T0,
        next_poll_at=T0 + timedelta(minutes=1),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


async def test_connections_are_added_listed_rotated_and_removed(store: Store) -> None:
    await store.add_optum_connection(_connection())
    with pytest.raises(ConflictError):
        await store.add_optum_connection(_connection())
    rotated = _connection(secret="n3w")
    assert await store.update_optum_connection(dataclasses.replace(rotated, discover_missed=True))

    found = await store.fetch_optum_connection("acme")
    assert found is not None
    assert found.connection.client_secret == "n3w"
    assert found.discover_missed is True
    assert found.created_at == T0
    assert [c.name for c in await store.list_optum_connections()] == ["acme"]
    assert await store.remove_optum_connection("acme") is True
    assert await store.remove_optum_connection("acme") is False
    assert await store.fetch_optum_connection("acme") is None


async def test_a_live_record_cannot_be_stored_twice_until_it_is_rejected(store: Store) -> None:
    await store.add_era_submission(_submission("era_1"), ["fp-a", "fp-b"])
    live = await store.find_live_records(["fp-b", "fp-c"])
    assert [(r.fingerprint, r.submission_id, r.position) for r in live] == [("fp-b", "era_1", 1)]
    with pytest.raises(ConflictError):
        await store.add_era_submission(_submission("era_2"), ["fp-b"])
    assert await store.fetch_era_submission("era_2") is None

    await store.settle_era_records("era_1", rejected=frozenset({"fp-b"}))
    states = {r.fingerprint: r.state for r in await store.find_live_records(["fp-a", "fp-b"])}
    assert states == {"fp-a": RecordState.ACCEPTED}
    await store.add_era_submission(_submission("era_3"), ["fp-b"])


async def test_released_records_may_go_again(store: Store) -> None:
    await store.add_era_submission(_submission("era_1"), ["fp-a"])
    await store.settle_era_records("era_1", rejected=None)
    assert await store.find_live_records(["fp-a"]) == []
    await store.add_era_submission(_submission("era_2"), ["fp-a"])


async def test_due_submissions_are_claimed_once_and_saved(store: Store) -> None:
    await store.add_era_submission(_submission("era_1"), ["fp-a"])
    await store.add_era_submission(
        _submission("era_2", next_poll_at=T0 + timedelta(hours=1)), ["fp-b"]
    )
    now = T0 + timedelta(minutes=2)
    lease = now + timedelta(minutes=5)

    claimed = await store.claim_due_era_submissions(now=now, lease_until=lease, limit=10)
    assert [s.id for s in claimed] == ["era_1"]
    assert claimed[0].next_poll_at == lease
    assert await store.claim_due_era_submissions(now=now, lease_until=lease, limit=10) == []

    done = dataclasses.replace(
        claimed[0],
        status=SubmissionStatus.COMPLETE,
        attempts=3,
        result={"status": "complete", "accepted": []},
        trace_id="t-1",
        completed_at=now,
    )
    await store.save_era_submission(done)
    again = await store.fetch_era_submission("era_1")
    assert again == done
    assert again is not None
    assert again.result == {"status": "complete", "accepted": []}


async def test_a_lost_submission_is_released_once_and_its_records_may_go_again(
    store: Store,
) -> None:
    lost = _submission("era_1", status=SubmissionStatus.UNKNOWN, payload_id=None)
    await store.add_era_submission(lost, ["fp-a", "fp-b"])
    later = T0 + timedelta(hours=1)
    # Read as submitting, but it is unknown now: the compare-and-set changes nothing.
    stale = await store.release_era_submission(
        "era_1", was=SubmissionStatus.SUBMITTING, reason="r", now=later
    )
    assert stale is False
    assert len(await store.find_live_records(["fp-a", "fp-b"])) == 2

    released = await store.release_era_submission(
        "era_1", was=SubmissionStatus.UNKNOWN, reason="released by cli:ops", now=later
    )
    assert released is True
    found = await store.fetch_era_submission("era_1")
    assert found is not None
    assert (found.status, found.reason, found.completed_at, found.next_poll_at) == (
        SubmissionStatus.DEAD,
        "released by cli:ops",
        later,
        None,
    )
    assert await store.find_live_records(["fp-a", "fp-b"]) == []
    again = await store.release_era_submission(
        "era_1", was=SubmissionStatus.UNKNOWN, reason="r", now=later
    )
    assert again is False  # once
    await store.add_era_submission(_submission("era_2"), ["fp-a", "fp-b"])
