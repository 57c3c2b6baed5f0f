"""The fan-out contract: subscriptions, deliveries created with a job's messages, claiming
with a per-subscription limit, attempts and subscription health, run against every adapter."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import anyio
import pytest

from receiver.errors import ConflictError, NotFoundError
from receiver.models import (
    DeliveryFilter,
    DeliveryStatus,
    Document,
    JobResult,
    RequeueCounts,
    SubscriptionStatus,
)
from receiver.store.base import Store
from receiver.store.postgres import PostgresStore
from tests.contract.fanout_support import (
    _EVENT_NUMBERS,
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
from tests.contract.support import NOW, claimed_job, complete, event_status

pytestmark = pytest.mark.anyio


class TestSubscriptions:
    async def test_round_trip_update_and_remove(self, store: Store) -> None:
        sub = subscription(("claim.*", "coverage_discovery.completed"), account="acme")
        await store.add_subscription(sub)
        assert await store.fetch_subscription(sub.id) == sub
        rotated = replace(
            sub,
            secret="whsec_" + "B" * 32,
            previous_secret=sub.secret,
            previous_expires_at=NOW + timedelta(hours=24),
            updated_at=LATER,
        )
        await store.update_subscription(rotated)
        assert await store.fetch_subscription(sub.id) == rotated
        removed = replace(rotated, status=SubscriptionStatus.REMOVED)
        await store.update_subscription(removed)
        assert await store.list_subscriptions() == []
        assert await store.list_subscriptions(include_removed=True) == [removed]

    async def test_update_of_unknown_subscription_is_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError):
            await store.update_subscription(subscription())
        assert await store.fetch_subscription("sub_nope") is None


class TestDeliveriesCreated:
    async def test_one_per_matching_subscription_not_removed(self, store: Store) -> None:
        wants_claims = subscription(("claim.*",))
        wants_acme_only = subscription(("*",), account="acme")
        wants_other = subscription(("*",), account="other")
        disabled = subscription(("claim.*",), status=SubscriptionStatus.DISABLED)
        removed = subscription(("*",), status=SubscriptionStatus.REMOVED)
        for sub in (wants_claims, wants_acme_only, wants_other, disabled, removed):
            await store.add_subscription(sub)
        ack, txn = msg("claim.acknowledgment.received"), msg("stedi.transaction.processed")
        await publish(store, ack, txn)

        page = await store.list_deliveries(DeliveryFilter(), limit=50, cursor=None)
        owed = sorted((d.message_id, d.subscription_id) for d in page.items)
        assert owed == sorted(
            [
                (ack.id, wants_claims.id),
                (ack.id, wants_acme_only.id),
                (txn.id, wants_acme_only.id),
                (ack.id, disabled.id),  # kept for when it is enabled again
            ]
        )
        assert {d.status for d in page.items} == {DeliveryStatus.PENDING}
        assert {d.attempts for d in page.items} == {0}
        only = await store.list_deliveries(
            DeliveryFilter(subscription_id=wants_claims.id), limit=50, cursor=None
        )
        assert [d.type for d in only.items] == ["claim.acknowledgment.received"]

    async def test_a_result_without_messages_owes_nothing(self, store: Store) -> None:
        # Both adapters fan out on every completion with a result; with no messages stored
        # for the event that plans nothing, and deliveries owed before are left as they are.
        everything = subscription(("*",))
        await store.add_subscription(everything)
        earlier = msg("claim.acknowledgment.received")
        await publish(store, earlier)
        silent = await publish(store)
        job = await claimed_job(store, next(_EVENT_NUMBERS))
        assert await complete(
            store,
            job,
            JobResult(documents=(Document(kind="835", transaction_id="txn-quiet", body=b"{}"),)),
        )

        page = await store.list_deliveries(DeliveryFilter(), limit=50, cursor=None)
        assert [(d.message_id, d.subscription_id) for d in page.items] == [
            (earlier.id, everything.id)
        ]
        assert await event_status(store, silent) == "processed"
        assert await event_status(store, job.event_id) == "processed"

    async def test_no_subscription_means_no_delivery(self, store: Store) -> None:
        await publish(store, msg("claim.file.failed"))
        assert (await store.list_deliveries(DeliveryFilter(), limit=5, cursor=None)).items == []


class TestClaim:
    async def test_claims_due_with_message_and_subscription(self, store: Store) -> None:
        sub = subscription()
        await store.add_subscription(sub)
        ack = msg("claim.acknowledgment.received")
        await publish(store, ack)
        assert await claim(store, now=NOW - timedelta(seconds=5)) == []  # not due yet
        (item,) = await claim(store)
        assert item.delivery.status == DeliveryStatus.RUNNING
        assert item.delivery.lease_until == LATER + timedelta(seconds=30)
        assert item.message.id == ack.id
        assert item.message.data == {"k": "claim.acknowledgment.received"}
        assert item.message.created_at == NOW
        assert item.subscription == sub
        assert await claim(store) == []  # leased

    async def test_per_subscription_limit_counts_running(self, store: Store) -> None:
        busy, calm = subscription(("*",)), subscription(("claim.remittance.received",))
        await store.add_subscription(busy)
        await store.add_subscription(calm)
        await publish(store, *(msg(f"x.{n}") for n in range(5)))
        await publish(store, msg("claim.remittance.received"))
        first = await claim(store, per=2)
        per_sub = [i.subscription.id for i in first]
        assert per_sub.count(busy.id) == 2
        assert per_sub.count(calm.id) == 1
        assert await claim(store, per=2) == []  # busy has 2 running already
        assert await finish(store, first[0], outcome(DeliveryStatus.DELIVERED))
        again = await claim(store, per=2)
        assert [i.subscription.id for i in again] == [busy.id]

    async def test_expired_lease_is_claimed_again(self, store: Store) -> None:
        await store.add_subscription(subscription(("*",)))
        await publish(store, msg("a.b"))
        (first,) = await claim(store)
        (second,) = await claim(store, now=LATER + timedelta(seconds=31))
        assert second.delivery.id == first.delivery.id
        assert not await finish(store, first, outcome(DeliveryStatus.DELIVERED))  # stale lease
        assert await finish(store, second, outcome(DeliveryStatus.DELIVERED))

    async def test_disabled_subscription_is_not_claimed(self, store: Store) -> None:
        sub = subscription(("*",))
        await store.add_subscription(sub)
        await publish(store, msg("a.b"))
        await store.update_subscription(replace(sub, status=SubscriptionStatus.DISABLED))
        assert await claim(store) == []
        await store.update_subscription(sub)
        assert len(await claim(store)) == 1

    async def test_releasing_held_deliveries_makes_backing_off_ones_due_now(
        self, store: Store
    ) -> None:
        """Enabling a subscription sends what waited at once, not at the end of its backoff."""
        sub, other = subscription(("*",)), subscription(("*",))
        await store.add_subscription(sub)
        await store.add_subscription(other)
        await publish(store, msg("a.b"))
        first = await claim(store)
        far = LATER + timedelta(hours=10)
        for item in first:
            assert await finish(
                store, item, outcome(DeliveryStatus.PENDING, code=500, retry_at=far)
            )
        assert await claim(store, now=LATER + timedelta(minutes=1)) == []
        await store.release_held_deliveries(sub.id, now=LATER + timedelta(minutes=1))
        (released,) = await claim(store, now=LATER + timedelta(minutes=1))
        assert released.delivery.subscription_id == sub.id  # the other still backs off
        assert await delivery_of(store, other.id, "a.b") is not None

    async def test_concurrent_claimers_never_share(self, store: Store) -> None:
        for _ in range(3):
            await store.add_subscription(subscription(("*",)))
        await publish(store, *(msg(f"t.{n}") for n in range(4)))
        batches = await asyncio.gather(*(claim(store, limit=3, per=10) for _ in range(5)))
        ids = [item.delivery.id for batch in batches for item in batch]
        assert len(ids) == len(set(ids)) == 12


class TestFinish:
    async def test_success_records_attempt_and_clears_failing(self, store: Store) -> None:
        sub = subscription(("*",))
        await store.add_subscription(sub)
        await publish(store, msg("a.b"))
        (item,) = await claim(store)
        retry_at = LATER + timedelta(seconds=5)
        failed = outcome(DeliveryStatus.PENDING, code=500, retry_at=retry_at)
        assert await finish(store, item, failed)
        pending = await store.fetch_delivery(item.delivery.id)
        assert pending is not None
        assert (pending.status, pending.attempts, pending.last_status) == ("pending", 1, 500)
        assert pending.next_attempt_at == retry_at
        assert pending.last_error == "HTTP 500"
        assert pending.lease_until is None
        health = await store.fetch_subscription(sub.id)
        assert health is not None
        assert health.failing_since == LATER

        (item,) = await claim(store, now=retry_at)
        assert await finish(store, item, outcome(DeliveryStatus.DELIVERED, at=retry_at))
        done = await store.fetch_delivery(item.delivery.id)
        assert done is not None
        assert (done.status, done.attempts, done.last_status) == ("delivered", 2, 200)
        attempts = await store.list_attempts(item.delivery.id)
        assert [(a.attempt, a.status_code, a.started_at) for a in attempts] == [
            (1, 500, LATER),
            (2, 200, retry_at),
        ]
        assert attempts[0].duration_ms == 12
        assert attempts[1].response_excerpt == "ok"
        healthy = await store.fetch_subscription(sub.id)
        assert healthy is not None
        assert healthy.failing_since is None

    async def test_failing_since_keeps_the_first_failure(self, store: Store) -> None:
        sub = subscription(("*",))
        await store.add_subscription(sub)
        await publish(store, msg("a.b"), msg("c.d"))
        first, second = await claim(store)
        assert await finish(store, first, outcome(DeliveryStatus.PENDING, code=503, retry_at=LATER))
        later = LATER + timedelta(minutes=1)
        assert await finish(
            store, second, outcome(DeliveryStatus.DEAD, code=None, at=later, retry_at=None)
        )
        found = await store.fetch_subscription(sub.id)
        assert found is not None
        assert found.failing_since == LATER
        dead = await store.fetch_delivery(second.delivery.id)
        assert dead is not None
        assert dead.status == "dead"

    async def test_disable_in_the_same_transaction(self, store: Store) -> None:
        sub = subscription(("*",))
        await store.add_subscription(sub)
        await publish(store, msg("a.b"))
        (item,) = await claim(store)
        gone = outcome(DeliveryStatus.DEAD, code=410, disable="endpoint answered 410 Gone")
        assert await finish(store, item, gone)
        found = await store.fetch_subscription(sub.id)
        assert found is not None
        assert found.status == SubscriptionStatus.DISABLED
        assert found.disabled_reason == "endpoint answered 410 Gone"

    async def test_revive_dead_delivery(self, store: Store) -> None:
        await store.add_subscription(subscription(("*",)))
        await publish(store, msg("a.b"))
        (item,) = await claim(store)
        assert not await store.revive_delivery(item.delivery.id, now=LATER)  # running
        assert await finish(store, item, outcome(DeliveryStatus.DEAD, code=500))
        assert await store.count_deliveries_by_status() == {"dead": 1}
        revived_at = LATER + timedelta(hours=1)
        assert await store.revive_delivery(item.delivery.id, now=revived_at)
        found = await store.fetch_delivery(item.delivery.id)
        assert found is not None
        assert (found.status, found.attempts, found.next_attempt_at) == (
            "pending",
            0,
            revived_at,
        )
        (again,) = await claim(store, now=revived_at)
        assert await finish(store, again, outcome(DeliveryStatus.DELIVERED))
        assert [a.attempt for a in await store.list_attempts(item.delivery.id)] == [1, 2]


class TestListing:
    async def test_filters_and_pages(self, store: Store) -> None:
        await store.add_subscription(subscription(("*",)))
        await publish(store, *(msg(f"t.{n}") for n in range(5)))
        first = await store.list_deliveries(DeliveryFilter(), limit=2, cursor=None)
        assert len(first.items) == 2
        assert first.next_cursor is not None
        rest = await store.list_deliveries(DeliveryFilter(), limit=10, cursor=first.next_cursor)
        assert len(rest.items) == 3
        assert rest.next_cursor is None
        seen = [d.id for d in first.items + rest.items]
        assert len(set(seen)) == 5
        by_type = await store.list_deliveries(DeliveryFilter(type="t.3"), limit=10, cursor=None)
        assert [d.type for d in by_type.items] == ["t.3"]
        pending = await store.list_deliveries(
            DeliveryFilter(status="pending"), limit=10, cursor=None
        )
        assert len(pending.items) == 5


REDELIVER_AT = LATER + timedelta(hours=1)


async def requeue(store: Store, event_id: str, subscription_id: str | None = None) -> RequeueCounts:
    return await store.requeue_event_deliveries(
        event_id, now=REDELIVER_AT, subscription_id=subscription_id
    )


class TestRequeueEventDeliveries:
    async def test_finished_ones_requeued_owed_ones_counted_removed_ones_skipped(
        self, store: Store
    ) -> None:
        """Delivered and dead go back to pending (disabled subscriptions included), pending
        and running are left alone, removed subscriptions and other events are untouched."""
        done, busy, off, gone = (subscription(("*",)) for _ in range(4))
        for sub in (done, busy, off, gone):
            await store.add_subscription(sub)
        event_id = await publish(store, msg("claim.a"), msg("claim.b"))
        await publish(store, msg("claim.c"))  # another event's deliveries stay as they are
        d, p = DeliveryStatus.DELIVERED, DeliveryStatus.PENDING
        await settle(
            store,
            {
                (done.id, "claim.a"): d,
                (done.id, "claim.b"): DeliveryStatus.DEAD,
                (busy.id, "claim.a"): p,
                (busy.id, "claim.b"): None,  # in flight
                (off.id, "claim.a"): d,
                (off.id, "claim.b"): DeliveryStatus.DEAD,
                (gone.id, "claim.a"): d,
                (gone.id, "claim.b"): DeliveryStatus.DEAD,
                **{(sub.id, "claim.c"): d for sub in (done, busy, off, gone)},
            },
        )
        await store.update_subscription(replace(off, status=SubscriptionStatus.DISABLED))
        await store.update_subscription(replace(gone, status=SubscriptionStatus.REMOVED))
        before = {
            (sub.id, t): await delivery_of(store, sub.id, t)
            for sub in (busy, gone)
            for t in ("claim.a", "claim.b")
        }

        assert await requeue(store, event_id) == RequeueCounts(requeued=4, already_pending=2)

        for sub in (done, off):
            for type_ in ("claim.a", "claim.b"):
                found = await delivery_of(store, sub.id, type_)
                assert (found.status, found.attempts, found.lease_until) == ("pending", 0, None)
                assert (found.next_attempt_at, found.updated_at) == (REDELIVER_AT, REDELIVER_AT)
                assert found.last_status == 200  # what the last attempt saw stays
        for (sub_id, type_), was in before.items():
            assert await delivery_of(store, sub_id, type_) == was
        for sub in (done, busy, off, gone):
            assert (await delivery_of(store, sub.id, "claim.c")).status == "delivered"
        again = await requeue(store, event_id)
        assert again == RequeueCounts(requeued=0, already_pending=6)

    async def test_attempt_history_is_kept_and_numbering_goes_on(self, store: Store) -> None:
        sub = subscription(("*",))
        await store.add_subscription(sub)
        event_id = await publish(store, msg("claim.a"))
        await settle(store, {(sub.id, "claim.a"): DeliveryStatus.DELIVERED})
        assert await requeue(store, event_id) == RequeueCounts(requeued=1, already_pending=0)
        assert await claim(store, now=REDELIVER_AT - timedelta(seconds=1)) == []  # due then
        (item,) = await claim(store, now=REDELIVER_AT)
        assert item.message.data == {"k": "claim.a"}  # the same message
        assert await finish(store, item, outcome(DeliveryStatus.DELIVERED, at=REDELIVER_AT))
        attempts = await store.list_attempts(item.delivery.id)
        assert [(a.attempt, a.started_at) for a in attempts] == [(1, LATER), (2, REDELIVER_AT)]
        found = await store.fetch_delivery(item.delivery.id)
        assert found is not None
        assert (found.status, found.attempts) == ("delivered", 1)

    async def test_one_subscription_only(self, store: Store) -> None:
        mine, theirs = subscription(("*",)), subscription(("*",))
        await store.add_subscription(mine)
        await store.add_subscription(theirs)
        event_id = await publish(store, msg("claim.a"), msg("claim.b"))
        d = DeliveryStatus.DELIVERED
        await settle(store, {(s.id, t): d for s in (mine, theirs) for t in ("claim.a", "claim.b")})
        counts = await requeue(store, event_id, mine.id)
        assert counts == RequeueCounts(requeued=2, already_pending=0)
        for type_ in ("claim.a", "claim.b"):
            assert (await delivery_of(store, mine.id, type_)).status == "pending"
            assert (await delivery_of(store, theirs.id, type_)).status == "delivered"

    async def test_a_subscription_newer_than_the_messages_gets_nothing(self, store: Store) -> None:
        old = subscription(("*",))
        await store.add_subscription(old)
        event_id = await publish(store, msg("claim.a"))
        await settle(store, {(old.id, "claim.a"): DeliveryStatus.DELIVERED})
        new = subscription(("*",))
        await store.add_subscription(new)
        assert await requeue(store, event_id, new.id) == RequeueCounts(0, 0)
        assert await requeue(store, event_id) == RequeueCounts(requeued=1, already_pending=0)
        page = await store.list_deliveries(
            DeliveryFilter(subscription_id=new.id), limit=5, cursor=None
        )
        assert page.items == []

    async def test_refusals(self, store: Store) -> None:
        sub, removed = subscription(("*",)), subscription(("*",), status=SubscriptionStatus.REMOVED)
        await store.add_subscription(sub)
        await store.add_subscription(removed)
        event_id = await publish(store, msg("claim.a"))
        with pytest.raises(NotFoundError, match="no event evt_nope"):
            await requeue(store, "evt_nope")
        with pytest.raises(NotFoundError, match="no subscription sub_nope"):
            await requeue(store, event_id, "sub_nope")
        with pytest.raises(ConflictError, match="removed"):
            await requeue(store, event_id, removed.id)
        unfinished = await claimed_job(store, next(_EVENT_NUMBERS))
        with pytest.raises(ConflictError, match="published no messages"):
            await requeue(store, unfinished.event_id)
        silent = await publish(store)  # its job finished without a message
        with pytest.raises(ConflictError, match="published no messages"):
            await requeue(store, silent)
        delivery = await delivery_of(store, sub.id, "claim.a")
        assert delivery.status == "pending"  # nothing was changed
        assert delivery.attempts == 0

    async def test_postgres_wakes_dispatchers_elsewhere(self, store: Store) -> None:
        if not isinstance(store, PostgresStore):
            pytest.skip("SQLite has no cross-process wake-up; its dispatchers poll")
        sub = subscription(("*",))
        await store.add_subscription(sub)
        event_id = await publish(store, msg("claim.a"))
        await settle(store, {(sub.id, "claim.a"): DeliveryStatus.DEAD})
        heard = asyncio.Event()
        stop = await store.listen(on_jobs=lambda: None, on_deliveries=heard.set)
        try:
            await asyncio.sleep(0.05)
            heard.clear()  # anything from before the requeue
            assert (await requeue(store, event_id)).requeued == 1
            with anyio.fail_after(5):
                await heard.wait()
        finally:
            await stop()
