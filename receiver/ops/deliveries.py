"""Deliveries as ops see them: filters, renderings, retry and redeliver."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from receiver.errors import BadRequestError, ConflictError, NotFoundError
from receiver.intake.body import parse_json_object
from receiver.models import (
    Actor,
    AuditAction,
    Delivery,
    DeliveryAttempt,
    DeliveryFilter,
    DeliveryStatus,
    RequeueCounts,
    SubscriptionStatus,
)
from receiver.ops.filters import DELIVERY_STATUSES, one_of
from receiver.ops.trail import record
from receiver.store.ports import AuditTrail, DeliveryOps


class AuditedDeliveryOps(DeliveryOps, AuditTrail, Protocol):
    """What retry and redeliver need: the delivery ops, and the audit trail they write to."""


REDELIVER_FIELDS = frozenset({"subscription_id"})


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """The public JSON form of a delivery."""
    return {
        "id": delivery.id,
        "message_id": delivery.message_id,
        "subscription_id": delivery.subscription_id,
        "type": delivery.type,
        "account": delivery.account,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat(),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at.isoformat(),
        "updated_at": delivery.updated_at.isoformat(),
    }


def attempt_json(attempt: DeliveryAttempt) -> dict[str, Any]:
    """The public JSON form of one attempt."""
    return {
        "attempt": attempt.attempt,
        "started_at": attempt.started_at.isoformat(),
        "duration_ms": attempt.duration_ms,
        "status_code": attempt.status_code,
        "response_excerpt": attempt.response_excerpt,
        "error": attempt.error,
    }


def delivery_filter(query: Any) -> DeliveryFilter:
    """DeliveryFilter from query parameters; BadRequestError for an unknown status."""
    return DeliveryFilter(
        subscription_id=query.get("subscription"),
        status=one_of("status", query.get("status"), DELIVERY_STATUSES),
        type=query.get("type"),
        message_id=query.get("message"),
    )


async def delivery_with_attempts(store: DeliveryOps, delivery_id: str) -> dict[str, Any] | None:
    """A delivery's JSON with `attempts` as the list of attempts, oldest first, `attempt_count`
    their number, and `attempts_since_requeue` those counted against its current attempt
    budget (a retry or redelivery starts a new one); None if there is no such delivery."""
    delivery = await store.fetch_delivery(delivery_id)
    if delivery is None:
        return None
    attempts = await store.list_attempts(delivery.id)
    return {
        **delivery_json(delivery),
        "attempt_count": len(attempts),
        "attempts_since_requeue": delivery.attempts,
        "attempts": [attempt_json(a) for a in attempts],  # replaces the plain count
    }


async def retry(
    store: AuditedDeliveryOps, delivery_id: str, now: datetime, *, actor: Actor
) -> None:
    """Put a dead delivery back in the queue with a fresh attempt budget, and audit it.

    NotFoundError if unknown; ConflictError if it is not dead or its subscription is removed.
    """
    delivery = await store.fetch_delivery(delivery_id)
    if delivery is None:
        raise NotFoundError("no such delivery")
    if delivery.status != DeliveryStatus.DEAD:
        raise ConflictError(f"delivery is {delivery.status.value}, not dead; nothing to retry")
    sub = await store.fetch_subscription(delivery.subscription_id)
    if sub is not None and sub.status == SubscriptionStatus.REMOVED:
        raise ConflictError("the delivery's subscription is removed")
    if not await store.revive_delivery(delivery.id, now=now):
        raise ConflictError("delivery is no longer dead; nothing to retry")
    await record(
        store,
        actor,
        AuditAction.DELIVERY_RETRY,
        now=now,
        target=delivery.id,
        counts={"requeued": 1},
    )


async def redeliver(
    store: AuditedDeliveryOps,
    event_id: str,
    now: datetime,
    subscription_id: str | None = None,
    *,
    actor: Actor,
) -> dict[str, Any]:
    """Put an event's delivered and dead deliveries (one subscription's, if given) back in
    the queue, and audit it; the answer's JSON: `event_id`, `requeued`, `already_pending`.

    NotFoundError for an unknown event or subscription; ConflictError for a removed
    subscription or an event that has published nothing yet.
    """
    counts: RequeueCounts = await store.requeue_event_deliveries(
        event_id, now=now, subscription_id=subscription_id
    )
    answer = {"requeued": counts.requeued, "already_pending": counts.already_pending}
    await record(
        store,
        actor,
        AuditAction.EVENT_REDELIVER,
        now=now,
        target=event_id,
        filter={"subscription_id": subscription_id},
        counts=answer,
    )
    return {"event_id": event_id, **answer}


def redelivery_subscription(body: bytes, *, max_depth: int) -> str | None:
    """The `subscription_id` of a redeliver body (None for an empty body: every
    subscription); BadRequestError for anything but a JSON object with only that field."""
    if not body:
        return None
    fields = parse_json_object(body, max_depth=max_depth)
    unknown = sorted(set(fields) - REDELIVER_FIELDS)
    if unknown:
        raise BadRequestError(
            f"unknown field {', '.join(unknown)}; the only field is subscription_id"
        )
    subscription_id = fields.get("subscription_id")
    if not isinstance(subscription_id, str) or not subscription_id:
        raise BadRequestError("subscription_id must be a subscription id (a string)")
    return subscription_id
