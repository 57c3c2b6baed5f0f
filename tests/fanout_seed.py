"""Put deliveries in a SQLite file through the (sealed) store's own verbs, for API and CLI tests:
a job finished with messages creates them, a claim and an attempt outcome move them on."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from receiver.crypto import load_or_create_kek
from receiver.ids import new_id
from receiver.models import (
    Account,
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryStatus,
    InboundEvent,
    JobResult,
    OutboundMessage,
    Source,
    Subscription,
    SubscriptionStatus,
)
from receiver.store.base import PROCESS_JOB
from receiver.store.sealed import SealedStore
from receiver.store.sqlite import SqliteStore


def sealed_store(path: Path) -> SealedStore:
    """The SQLite file's store as receiver opens it: behind the key beside the database."""
    return SealedStore(
        SqliteStore(path), load_or_create_kek(path.parent / "receiver-encryption.key")
    )


@dataclasses.dataclass(frozen=True)
class Seeded:
    """What `seed_deliveries` made: message ids by type, and delivery ids by fate."""

    messages: dict[str, str]
    dead: str
    pending: str


async def _seed(path: Path, subscription_id: str) -> Seeded:
    store = sealed_store(path)
    await store.open()
    try:
        now = datetime.now(UTC)
        event = InboundEvent(
            id=new_id("evt"),
            source=Source.STEDI,
            type="transaction.processed.v2",
            account="acme",
            external_id=new_id("ext"),
            dedup_keys=(f"stedi:event:{new_id('k')}",),
            body=b"{}",
            headers={},
            received_at=now,
        )
        await store.record_inbound(event, PROCESS_JOB)
        jobs = await store.claim_due_jobs(now=now, lease_seconds=60, limit=50)
        (job,) = [j for j in jobs if j.event_id == event.id]
        assert job.lease_until is not None
        messages = tuple(
            OutboundMessage(id=new_id("msg"), type=t, account="acme", data={}, created_at=now)
            for t in ("claim.acknowledgment.received", "claim.remittance.received")
        )
        done = await store.complete_job(
            job.id, now=now, lease_until=job.lease_until, result=JobResult(messages=messages)
        )
        assert done
        claimed = await store.claim_due_deliveries(
            now=now + timedelta(seconds=1), lease_seconds=60, limit=50, per_subscription=50
        )
        mine = [c for c in claimed if c.delivery.subscription_id == subscription_id]
        by_type = {c.delivery.type: c.delivery for c in mine}
        dead = by_type["claim.acknowledgment.received"]
        pending = by_type["claim.remittance.received"]
        for delivery, status in ((dead, DeliveryStatus.DEAD), (pending, DeliveryStatus.PENDING)):
            assert delivery.lease_until is not None
            outcome = AttemptOutcome(
                attempt=DeliveryAttempt(
                    delivery_id=delivery.id,
                    attempt=1,
                    started_at=now,
                    duration_ms=42,
                    status_code=500,
                    response_excerpt="upstream broke",
                    error="HTTP 500",
                ),
                next_status=status,
                next_attempt_at=now + timedelta(hours=1) if status == "pending" else None,
            )
            finished = await store.finish_delivery(
                delivery.id, now=now, lease_until=delivery.lease_until, outcome=outcome
            )
            assert finished
        return Seeded(messages={m.type: m.id for m in messages}, dead=dead.id, pending=pending.id)
    finally:
        await store.close()


def seed_deliveries(path: Path, subscription_id: str) -> Seeded:
    """Two deliveries to `subscription_id` (which must want `claim.*` from acme), one
    attempt each: the acknowledgment's is dead, the remittance's pending (retry in 1 h)."""
    return asyncio.run(_seed(path, subscription_id))


async def _update(path: Path, subscription_id: str, **changes: object) -> None:
    store = sealed_store(path)
    await store.open()
    try:
        sub = await store.fetch_subscription(subscription_id)
        assert sub is not None
        await store.update_subscription(dataclasses.replace(sub, **changes))  # type: ignore[arg-type]
    finally:
        await store.close()


def disable_subscription(path: Path, subscription_id: str) -> None:
    """Disable a subscription the way the dispatcher does after a 410."""
    asyncio.run(
        _update(
            path,
            subscription_id,
            status=SubscriptionStatus.DISABLED,
            disabled_reason="the endpoint answered 410 Gone",
            failing_since=datetime.now(UTC) - timedelta(hours=1),
        )
    )


def fetch_subscription(path: Path, subscription_id: str) -> Subscription:
    """A subscription as stored (with its secrets)."""

    async def run() -> Subscription:
        store = sealed_store(path)
        await store.open()
        try:
            sub = await store.fetch_subscription(subscription_id)
            assert sub is not None
            return sub
        finally:
            await store.close()

    return asyncio.run(run())


def fetch_account(path: Path, name: str) -> Account:
    """An account as the worker reads it (with its API key, opened)."""

    async def run() -> Account:
        store = sealed_store(path)
        await store.open()
        try:
            account = await store.fetch_account(name)
            assert account is not None
            return account
        finally:
            await store.close()

    return asyncio.run(run())
