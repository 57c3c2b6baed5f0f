"""Delivery routes: list and show (scope events:read); retry a dead one, redeliver an event's
messages (scope events:replay)."""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import NotFoundError
from receiver.intake.body import require_json_content_type
from receiver.ops.deliveries import (
    delivery_filter,
    delivery_json,
    delivery_with_attempts,
    redeliver,
    redelivery_subscription,
    retry,
)
from receiver.ops.events import parse_limit
from receiver.web.body import read_body
from receiver.web.deps import ORJSONResponse, require_actor, require_scope, services

READ_SCOPE = "events:read"
REPLAY_SCOPE = "events:replay"

_log = structlog.get_logger("receiver.deliveries")


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
    actor = await require_actor(request, REPLAY_SCOPE)
    svc = services(request)
    delivery_id = request.path_params["id"]
    await retry(svc.store, delivery_id, svc.clock(), actor=actor)
    _log.info("delivery.retried", delivery_id=delivery_id)
    svc.dispatch_wakeup.notify()
    return ORJSONResponse({"id": delivery_id, "status": "pending"}, status_code=202)


async def redeliver_event(request: Request) -> Response:
    """POST /events/{id}/redeliver: 202 once the event's delivered and dead deliveries (to
    one subscription with `{"subscription_id": ...}`) are pending again."""
    actor = await require_actor(request, REPLAY_SCOPE)
    svc = services(request)
    body = await read_body(request, svc.settings.max_body_bytes)
    if body:
        require_json_content_type(request.headers.get("content-type"))
    subscription_id = redelivery_subscription(body, max_depth=svc.settings.max_json_depth)
    event_id = request.path_params["id"]
    answer = await redeliver(svc.store, event_id, svc.clock(), subscription_id, actor=actor)
    _log.info(
        "event.redelivered",
        event_id=event_id,
        subscription_id=subscription_id,
        requeued=answer["requeued"],
        already_pending=answer["already_pending"],
    )
    if answer["requeued"]:
        svc.dispatch_wakeup.notify()
    return ORJSONResponse(answer, status_code=202)
