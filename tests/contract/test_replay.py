"""The bulk replay contract (`Store.requeue_deliveries`), run against every adapter: the
window on publication time, statuses, owed deliveries left alone, subscriptions, the cap."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import anyio
import pytest

from receiver.errors import BadRequestError, ConflictError, NotFoundError
from receiver.models import (
    DeliveryStatus,
    OutboundMessage,
    ReplayCounts,
    ReplayFilter,
    Subscription,
    SubscriptionStatus,
)
from receiver.store.base import Store
from receiver.store.postgres import PostgresStore
from tests.contract.fanout_support import (
    LATER,
    claim,
    delivery_of,
    finish,
    msg,
    outcome,
    publish,
    settle,
    subscription,
)
from tests.contract.support import NOW

pytestmark = pytest.mark.anyio

SINCE = NOW
UNTIL = NOW + timedelta(hours=1)
REPLAY_AT = LATER + timedelta(hours=1)
DEAD, DELIVERED, PENDING = DeliveryStatus.DEAD, DeliveryStatus.DELIVERED, DeliveryStatus.PENDING
BOTH = (DELIVERED, DEAD)


def at(type_: str, published: datetime) -> OutboundMessage:
    return replace(msg(type_), created_at=published)


def window(
    statuses: tuple[DeliveryStatus, ...] = (DEAD,), subscription_id: str | None = None
) -> ReplayFilter:
    return ReplayFilter(
        since=SINCE, until=UNTIL, subscription_id=subscription_id, statuses=statuses
    )


async def replay(
    store: Store, flt: ReplayFilter, *, limit: int = 100, dry_run: bool = False
) -> ReplayCounts:
    return await store.requeue_deliveries(flt, now=REPLAY_AT, limit=limit, dry_run=dry_run)


async def subscribed(store: Store, n: int = 1) -> list[Subscription]:
    subs = [subscription(("*",)) for _ in range(n)]
    for sub in subs:
        await store.add_subscription(sub)
    return subs


async def statuses_of(store: Store, sub: Subscription, *types: str) -> list[str]:
    return [(await delivery_of(store, sub.id, t)).status.value for t in types]


EDGES = {
    "claim.before": SINCE - timedelta(microseconds=1),
    "claim.first": SINCE,
    "claim.inside": SINCE + timedelta(minutes=30),
    "claim.last": UNTIL - timedelta(microseconds=1),
    "claim.until": UNTIL,
}


class TestWindow:
    async def test_since_is_inclusive_until_exclusive(self, store: Store) -> None:
        (sub,) = await subscribed(store)
        await publish(store, *(at(t, when) for t, when in EDGES.items()))
        await settle(store, {(sub.id, t): DEAD for t in EDGES})

        assert await replay(store, window()) == ReplayCounts(3, 3, 0)

        assert await statuses_of(store, sub, *EDGES) == [
            "dead",
            "pending",
            "pending",
            "pending",
            "dead",
        ]
        requeued = await delivery_of(store, sub.id, "claim.inside")
        assert (requeued.attempts, requeued.lease_until) == (0, None)
        assert (requeued.next_attempt_at, requeued.updated_at) == (REPLAY_AT, REPLAY_AT)
        attempts = await store.list_attempts(requeued.id)
        assert len(attempts) == 1  # the history is kept

    async def test_status_dead_delivered_or_all(self, store: Store) -> None:
        (sub,) = await subscribed(store)
        await publish(store, at("claim.a", SINCE), at("claim.b", SINCE))
        await settle(store, {(sub.id, "claim.a"): DEAD, (sub.id, "claim.b"): DELIVERED})
        dry = await replay(store, window(BOTH), dry_run=True)
        assert dry == ReplayCounts(matched=2, requeued=0, already_pending=0)

        assert await replay(store, window((DELIVERED,))) == ReplayCounts(1, 1, 0)
        assert await statuses_of(store, sub, "claim.a", "claim.b") == ["dead", "pending"]
        # The requeued one is now pending: counted, never touched again.
        assert await replay(store, window((DEAD,))) == ReplayCounts(1, 1, 1)
        assert await statuses_of(store, sub, "claim.a", "claim.b") == ["pending", "pending"]
        assert await replay(store, window(BOTH)) == ReplayCounts(0, 0, 2)

    async def test_all_resends_both(self, store: Store) -> None:
        (sub,) = await subscribed(store)
        await publish(store, at("claim.a", SINCE), at("claim.b", SINCE))
        await settle(store, {(sub.id, "claim.a"): DEAD, (sub.id, "claim.b"): DELIVERED})
        assert await replay(store, window(BOTH)) == ReplayCounts(2, 2, 0)
        assert await statuses_of(store, sub, "claim.a", "claim.b") == ["pending", "pending"]

    async def test_pending_and_running_are_untouched_and_counted(self, store: Store) -> None:
        (sub,) = await subscribed(store)
        await publish(store, at("claim.a", SINCE), at("claim.b", SINCE), at("claim.c", SINCE))
        await settle(
            store,
            {(sub.id, "claim.a"): DEAD, (sub.id, "claim.b"): PENDING, (sub.id, "claim.c"): None},
        )
        before = [await delivery_of(store, sub.id, t) for t in ("claim.b", "claim.c")]
        assert [d.status for d in before] == ["pending", "running"]

        for statuses in ((DEAD,), (DELIVERED,), BOTH):
            counts = await replay(store, window(statuses), dry_run=True)
            assert counts.already_pending == 2
        assert await replay(store, window((DELIVERED,))) == ReplayCounts(0, 0, 2)
        assert await replay(store, window()) == ReplayCounts(1, 1, 2)
        assert [await delivery_of(store, sub.id, t) for t in ("claim.b", "claim.c")] == before


class TestSubscriptions:
    async def test_removed_excluded_disabled_included(self, store: Store) -> None:
        live, off, gone = await subscribed(store, 3)
        await publish(store, at("claim.a", SINCE))
        await settle(store, {(s.id, "claim.a"): DEAD for s in (live, off, gone)})
        await store.update_subscription(replace(off, status=SubscriptionStatus.DISABLED))
        await store.update_subscription(replace(gone, status=SubscriptionStatus.REMOVED))

        assert await replay(store, window()) == ReplayCounts(2, 2, 0)
        assert await statuses_of(store, live, "claim.a") == ["pending"]
        assert await statuses_of(store, off, "claim.a") == ["pending"]
        assert await statuses_of(store, gone, "claim.a") == ["dead"]

    async def test_one_subscription(self, store: Store) -> None:
        mine, theirs = await subscribed(store, 2)
        await publish(store, at("claim.a", SINCE), at("claim.b", SINCE))
        await settle(
            store, {(s.id, t): DEAD for s in (mine, theirs) for t in ("claim.a", "claim.b")}
        )
        assert await replay(store, window(subscription_id=mine.id)) == ReplayCounts(2, 2, 0)
        assert await statuses_of(store, mine, "claim.a", "claim.b") == ["pending", "pending"]
        assert await statuses_of(store, theirs, "claim.a", "claim.b") == ["dead", "dead"]

    async def test_unknown_is_not_found_removed_is_conflict(self, store: Store) -> None:
        (gone,) = await subscribed(store)
        await store.update_subscription(replace(gone, status=SubscriptionStatus.REMOVED))
        with pytest.raises(NotFoundError, match="no subscription sub_nope"):
            await replay(store, window(subscription_id="sub_nope"), dry_run=True)
        with pytest.raises(ConflictError, match="removed"):
            await replay(store, window(subscription_id=gone.id))


class TestLimitsAndDryRun:
    async def test_over_the_cap_changes_nothing(self, store: Store) -> None:
        (sub,) = await subscribed(store)
        types = ("claim.a", "claim.b", "claim.c")
        await publish(store, *(at(t, SINCE) for t in types))
        await settle(store, {(sub.id, t): DEAD for t in types})
        with pytest.raises(ConflictError, match="3 deliveries match") as refused:
            await replay(store, window(), limit=2)
        assert "narrow the window" in str(refused.value.detail)
        assert await statuses_of(store, sub, *types) == ["dead", "dead", "dead"]
        dry = await replay(store, window(), limit=2, dry_run=True)
        assert dry == ReplayCounts(matched=3, requeued=0, already_pending=0, over_limit=True)
        assert await replay(store, window(), limit=3) == ReplayCounts(3, 3, 0)

    async def test_dry_run_changes_nothing(self, store: Store) -> None:
        (sub,) = await subscribed(store)
        await publish(store, at("claim.a", SINCE), at("claim.b", SINCE))
        await settle(store, {(sub.id, "claim.a"): DEAD, (sub.id, "claim.b"): DELIVERED})
        before = [await delivery_of(store, sub.id, t) for t in ("claim.a", "claim.b")]
        assert await replay(store, window(BOTH), dry_run=True) == ReplayCounts(2, 0, 0)
        assert [await delivery_of(store, sub.id, t) for t in ("claim.a", "claim.b")] == before
        assert await claim(store, now=REPLAY_AT) == []

    async def test_more_than_one_batch_of_ids(self, store: Store) -> None:
        """Over 500 deliveries (SQLite updates them 500 ids at a time) in one replay."""
        (sub,) = await subscribed(store)
        types = [f"claim.t{i}" for i in range(501)]
        await publish(store, *(at(t, SINCE) for t in types))
        for item in await claim(store, limit=1000, per=1000):
            assert await finish(store, item, outcome(DEAD, code=500))
        assert await replay(store, window(), limit=501) == ReplayCounts(501, 501, 0)
        pending = await store.count_deliveries_by_status()
        assert pending == {"pending": 501}

    async def test_bad_filters(self, store: Store) -> None:
        with pytest.raises(BadRequestError, match="later than since"):
            await replay(store, replace(window(), until=SINCE))
        with pytest.raises(BadRequestError, match="delivered and/or dead"):
            await replay(store, window((PENDING,)))
        with pytest.raises(BadRequestError, match="delivered and/or dead"):
            await replay(store, window(()))

    async def test_postgres_wakes_dispatchers_elsewhere(self, store: Store) -> None:
        if not isinstance(store, PostgresStore):
            pytest.skip("SQLite has no cross-process wake-up; its dispatchers poll")
        (sub,) = await subscribed(store)
        await publish(store, at("claim.a", SINCE))
        await settle(store, {(sub.id, "claim.a"): DEAD})
        heard = asyncio.Event()
        stop = await store.listen(on_jobs=lambda: None, on_deliveries=heard.set)
        try:
            await asyncio.sleep(0.05)
            heard.clear()
            assert (await replay(store, window())).requeued == 1
            with anyio.fail_after(5):
                await heard.wait()
        finally:
            await stop()
