"""Builders the fan-out and replay contract tests share: subscriptions, messages, claims."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from receiver.ids import new_id
from receiver.models import (
    AttemptOutcome,
    ClaimedDelivery,
    Delivery,
    DeliveryAttempt,
    DeliveryFilter,
    DeliveryStatus,
    JobResult,
    OutboundMessage,
    Subscription,
    SubscriptionStatus,
)
from receiver.store.base import Store
from tests.contract.support import NOW, claimed_job, complete

_EVENT_NUMBERS = itertools.count(1)


LATER = NOW + timedelta(seconds=10)


def subscription(
    patterns: tuple[str, ...] = ("claim.*",),
    account: str | None = None,
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
) -> Subscription:
    return Subscription(
        id=new_id("sub"),
        url="https://hooks.example.com/in",
        type_patterns=patterns,
        account=account,
        description="billing",
        secret="whsec_" + "A" * 32,
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


def msg(type_: str, account: str | None = "acme") -> OutboundMessage:
    return OutboundMessage(
        id=new_id("msg"), type=type_, account=account, data={"k": type_}, created_at=NOW
    )


async def publish(store: Store, *messages: OutboundMessage) -> str:
    """Complete a fresh job whose result holds `messages`; returns the event id."""
    job = await claimed_job(store, next(_EVENT_NUMBERS))
    assert await complete(store, job, JobResult(messages=messages))
    return job.event_id


async def claim(
    store: Store, now: datetime = LATER, limit: int = 50, per: int = 10
) -> list[ClaimedDelivery]:
    return await store.claim_due_deliveries(
        now=now, lease_seconds=30, limit=limit, per_subscription=per
    )


def outcome(
    status: DeliveryStatus,
    *,
    code: int | None = 200,
    at: datetime = LATER,
    retry_at: datetime | None = None,
    disable: str | None = None,
) -> AttemptOutcome:
    return AttemptOutcome(
        attempt=DeliveryAttempt(
            delivery_id="",
            attempt=0,
            started_at=at,
            duration_ms=12,
            status_code=code,
            response_excerpt="ok" if code else None,
            error=None if code and code < 300 else "HTTP 500",
        ),
        next_status=status,
        next_attempt_at=retry_at,
        disable=disable,
    )


async def finish(store: Store, item: ClaimedDelivery, result: AttemptOutcome) -> bool:
    lease = item.delivery.lease_until
    assert lease is not None
    return await store.finish_delivery(
        item.delivery.id, now=LATER, lease_until=lease, outcome=result
    )


async def settle(store: Store, fates: dict[tuple[str, str], DeliveryStatus | None]) -> None:
    """Claim every due delivery and finish each as `fates[(subscription id, type)]` says:
    DELIVERED, DEAD, PENDING (retry in 2 h) or None (left running)."""
    for item in await claim(store):
        fate = fates[(item.subscription.id, item.delivery.type)]
        if fate is None:
            continue
        retry_at = LATER + timedelta(hours=2) if fate == DeliveryStatus.PENDING else None
        assert await finish(store, item, outcome(fate, code=200, retry_at=retry_at))


async def delivery_of(store: Store, subscription_id: str, type_: str) -> Delivery:
    page = await store.list_deliveries(
        DeliveryFilter(subscription_id=subscription_id, type=type_), limit=50, cursor=None
    )
    (found,) = page.items
    return found
