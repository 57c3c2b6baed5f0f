"""Subscription routes (scope subscriptions:write): add, list, show, remove, rotate, enable."""

from __future__ import annotations

from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response

from receiver.delivery import subscriptions as domain
from receiver.errors import BadRequestError, NotFoundError
from receiver.intake.body import parse_json_object, require_json_content_type
from receiver.models import Subscription
from receiver.ops.subscriptions import (
    subscription_json,
    with_secret,
)
from receiver.web.body import read_body
from receiver.web.deps import ORJSONResponse, require_scope, services

WRITE_SCOPE = "subscriptions:write"
FIELDS = frozenset({"url", "types", "account", "description"})

_log = structlog.get_logger("receiver.delivery.subscriptions")


def flag(query: Any, name: str) -> bool:
    """A boolean query parameter: true/1 or false/0 (absent: false)."""
    raw = query.get(name)
    if raw is None or raw in ("false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise BadRequestError(f"{name} must be true or false")


async def _fetch(request: Request) -> Subscription:
    sub = await services(request).store.fetch_subscription(request.path_params["id"])
    if sub is None:
        raise NotFoundError("no such subscription")
    return sub


async def list_subscriptions(request: Request) -> Response:
    """GET /subscriptions: oldest first; removed ones only with `include_removed=true`."""
    await require_scope(request, WRITE_SCOPE)
    include = flag(request.query_params, "include_removed")
    found = await services(request).store.list_subscriptions(include_removed=include)
    return ORJSONResponse({"items": [subscription_json(s) for s in found]})


async def add_subscription(request: Request) -> Response:
    """POST /subscriptions: 201 with the signing secret, shown this once."""
    await require_scope(request, WRITE_SCOPE)
    svc = services(request)
    require_json_content_type(request.headers.get("content-type"))
    body = parse_json_object(
        await read_body(request, svc.settings.max_body_bytes),
        max_depth=svc.settings.max_json_depth,
    )
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadRequestError(
            f"unknown field {', '.join(unknown)}; fields are {', '.join(sorted(FIELDS))}"
        )
    sub = await domain.create_subscription(
        svc.store,
        url=body.get("url"),
        types=body.get("types"),
        account=body.get("account"),
        description=body.get("description"),
        now=svc.clock(),
        allow_insecure=svc.settings.allow_insecure_destinations,
        resolver=svc.resolver,
    )
    _log.info("subscription.created", subscription_id=sub.id)
    return ORJSONResponse(with_secret(sub), status_code=201)


async def show_subscription(request: Request) -> Response:
    """GET /subscriptions/{id}: removed ones too (status `removed`), never the secret."""
    await require_scope(request, WRITE_SCOPE)
    return ORJSONResponse(subscription_json(await _fetch(request)))


async def remove_subscription(request: Request) -> Response:
    """DELETE /subscriptions/{id}: 204; deliveries and attempts are kept (idempotent)."""
    await require_scope(request, WRITE_SCOPE)
    svc = services(request)
    sub = await _fetch(request)
    removed = domain.remove(sub, svc.clock())
    if removed is not sub:
        await svc.store.update_subscription(removed)
        _log.info("subscription.removed", subscription_id=sub.id)
    return Response(status_code=204)


async def rotate_secret(request: Request) -> Response:
    """POST /subscriptions/{id}/rotate-secret: a new secret; the old one signs too for the
    grace period (RECEIVER_SUBSCRIPTION_SECRET_GRACE_SECONDS)."""
    await require_scope(request, WRITE_SCOPE)
    svc = services(request)
    rotated = domain.rotate_secret(
        await _fetch(request), svc.clock(), svc.settings.subscription_secret_grace_seconds
    )
    await svc.store.update_subscription(rotated)
    _log.info("subscription.secret_rotated", subscription_id=rotated.id)
    return ORJSONResponse(with_secret(rotated))


async def enable_subscription(request: Request) -> Response:
    """POST /subscriptions/{id}/enable: active again (409 if removed)."""
    await require_scope(request, WRITE_SCOPE)
    svc = services(request)
    enabled = domain.enable(await _fetch(request), svc.clock())
    await svc.store.update_subscription(enabled)
    await svc.store.release_held_deliveries(enabled.id, now=svc.clock())
    _log.info("subscription.enabled", subscription_id=enabled.id)
    svc.dispatch_wakeup.notify()  # its held-back deliveries are due
    return ORJSONResponse(subscription_json(enabled))


async def collection(request: Request) -> Response:
    """/subscriptions: GET lists, POST adds."""
    if request.method == "POST":
        return await add_subscription(request)
    return await list_subscriptions(request)


async def item(request: Request) -> Response:
    """/subscriptions/{id}: GET shows, DELETE removes."""
    if request.method == "DELETE":
        return await remove_subscription(request)
    return await show_subscription(request)
