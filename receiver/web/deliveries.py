"""Delivery routes: list and show (scope events:read); retry a dead one, redeliver an event's
messages (scope events:replay)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import BadRequestError, ConflictError, NotFoundError
from receiver.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryFilter,
    DeliveryStatus,
    RequeueCounts,
    SubscriptionStatus,
)
from receiver.sources.body import parse_json_object, require_json_content_type
from receiver.store.base import Store
from receiver.web.body import read_body
from receiver.web.deps import ORJSONResponse, require_scope, services
from receiver.web.ops import parse_limit

READ_SCOPE = "events:read"
REPLAY_SCOPE = "events:replay"
STATUSES = tuple(s.value for s in DeliveryStatus)
REDELIVER_FIELDS = frozenset({"subscription_id"})

_log = structlog.get_logger("receiver.deliveries")


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
    status = query.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequestError(f"status must be one of {', '.join(STATUSES)}")
    return DeliveryFilter(
        subscription_id=query.get("subscription"),
        status=status,
        type=query.get("type"),
        message_id=query.get("message"),
    )


async def delivery_with_attempts(store: Store, delivery_id: str) -> dict[str, Any] | None:
    """A delivery's JSON with `attempts` as the list of attempts, oldest first (the count is
    `attempt_count`); None if there is no such delivery."""
    delivery = await store.fetch_delivery(delivery_id)
    if delivery is None:
        return None
    attempts = await store.list_attempts(delivery.id)
    return {
        **delivery_json(delivery),
        "attempt_count": delivery.attempts,  # `attempts` below is the list itself
        "attempts": [attempt_json(a) for a in attempts],
    }


async def retry(store: Store, delivery_id: str, now: datetime) -> None:
    """Put a dead delivery back in the queue with a fresh attempt budget.

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


async def redeliver(
    store: Store, event_id: str, now: datetime, subscription_id: str | None = None
) -> dict[str, Any]:
    """Put an event's delivered and dead deliveries (one subscription's, if given) back in
    the queue; the answer's JSON: `event_id`, `requeued`, `already_pending`.

    NotFoundError for an unknown event or subscription; ConflictError for a removed
    subscription or an event that has published nothing yet.
    """
    counts: RequeueCounts = await store.requeue_event_deliveries(
        event_id, now=now, subscription_id=subscription_id
    )
    return {
        "event_id": event_id,
        "requeued": counts.requeued,
        "already_pending": counts.already_pending,
    }


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


async def list_deliveries(request: Request) -> Response:
    """GET /deliveries: newest first; filters subscription, status, type, message."""
    await require_scope(request, READ_SCOPE)
    query = request.query_params
    page = await services(request).store.list_deliveries(
        delivery_filter(query), limit=parse_limit(query.get("limit")), cursor=query.get("cursor")
    )
    return ORJSONResponse(
        {"items": [delivery_json(d) for d in page.items], "next_cursor": page.next_cursor}
    )


async def show_delivery(request: Request) -> Response:
    """GET /deliveries/{id}: the delivery and every attempt made at it."""
    await require_scope(request, READ_SCOPE)
    found = await delivery_with_attempts(services(request).store, request.path_params["id"])
    if found is None:
        raise NotFoundError("no such delivery")
    return ORJSONResponse(found)


async def retry_delivery(request: Request) -> Response:
    """POST /deliveries/{id}/retry: 202 once a dead delivery is pending again."""
    await require_scope(request, REPLAY_SCOPE)
    svc = services(request)
    delivery_id = request.path_params["id"]
    await retry(svc.store, delivery_id, svc.clock())
    _log.info("delivery.retried", delivery_id=delivery_id)
    if svc.dispatch_wakeup is not None:
        svc.dispatch_wakeup.notify()
    return ORJSONResponse({"id": delivery_id, "status": "pending"}, status_code=202)


async def redeliver_event(request: Request) -> Response:
    """POST /events/{id}/redeliver: 202 once the event's delivered and dead deliveries (to
    one subscription with `{"subscription_id": ...}`) are pending again."""
    await require_scope(request, REPLAY_SCOPE)
    svc = services(request)
    body = await read_body(request, svc.settings.max_body_bytes)
    if body:
        require_json_content_type(request.headers.get("content-type"))
    subscription_id = redelivery_subscription(body, max_depth=svc.settings.max_json_depth)
    event_id = request.path_params["id"]
    answer = await redeliver(svc.store, event_id, svc.clock(), subscription_id)
    _log.info(
        "event.redelivered",
        event_id=event_id,
        subscription_id=subscription_id,
        requeued=answer["requeued"],
        already_pending=answer["already_pending"],
    )
    if svc.dispatch_wakeup is not None and answer["requeued"]:
        svc.dispatch_wakeup.notify()
    return ORJSONResponse(answer, status_code=202)
