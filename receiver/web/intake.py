"""Inbound routes: Stedi webhooks, Stedi event destinations, Optum Coverage Discovery callbacks.

Each verifies, parses with a pure source function, and records the event with its job in one
transaction before answering. Nothing here calls upstream: Stedi drops answers slower than 5 s.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog
from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import NotFoundError, ReceiverError, UnauthorizedError
from receiver.ids import new_id
from receiver.intake.body import clean_headers, parse_json_object, require_json_content_type
from receiver.intake.optum import parse_coverage_discovery
from receiver.intake.stedi import (
    credential_header_names,
    parse_stedi_webhook,
    verify_webhook_credential,
)
from receiver.intake.stedi_destinations import (
    parse_destination_event,
    verify_destination_signature,
)
from receiver.models import Account, InboundEvent, RecordResult, Source
from receiver.store.base import PROCESS_JOB
from receiver.web.body import read_body
from receiver.web.deps import ORJSONResponse, require_scope, services
from receiver.web.services import Services

_log = structlog.get_logger("receiver.intake")

OPTUM_SCOPE = "callbacks:coverage-discovery"


async def _intake(
    request: Request,
    source: Source,
    verify_and_parse: Callable[[Services], Awaitable[InboundEvent]],
) -> RecordResult:
    """Run one intake: verify and parse, record, count and log (ids only, never bodies)."""
    svc = services(request)
    started = time.perf_counter()
    try:
        event = await verify_and_parse(svc)
        result = await svc.store.record_inbound(event, PROCESS_JOB)
    except ReceiverError as exc:
        svc.metrics.inbound_rejections.labels(source.value, exc.code).inc()
        svc.metrics.inbound_events.labels(source.value, "rejected").inc()
        raise
    outcome = "accepted" if result.created else "duplicate"
    if result.created:
        svc.wakeup.notify()
    svc.metrics.inbound_events.labels(source.value, outcome).inc()
    if not result.created:
        svc.metrics.inbound_duplicates.labels(source.value).inc()
    svc.metrics.intake_seconds.labels(source.value).observe(time.perf_counter() - started)
    _log.info(
        "inbound.accepted" if result.created else "inbound.duplicate",
        source=source.value,
        event_id=result.event_id,
        account=event.account,
        type=event.type,
        transaction_id=event.transaction_id,
    )
    return result


def _ack(result: RecordResult) -> Response:
    status = "accepted" if result.created else "duplicate"
    return ORJSONResponse({"status": status, "event_id": result.event_id})


async def _account(svc: Services, name: str) -> Account:
    """The named account, read through the directory cache (RECEIVER_DIRECTORY_CACHE_SECONDS)."""
    account = await svc.directory.fetch_account(name)
    if account is None:
        raise NotFoundError(f"no account named {name!r} is configured")
    return account


async def stedi_webhook(request: Request) -> Response:
    """POST /webhooks/stedi/{account}: the Stedi Webhooks product (EventBridge envelope)."""
    name = request.path_params["account"]

    async def verify_and_parse(svc: Services) -> InboundEvent:
        account = await _account(svc, name)
        now = svc.clock()
        try:
            verify_webhook_credential(account, request.headers, now)
        except UnauthorizedError:
            # Loud: Stedi moves a webhook to Deauthorized after a 401 and stops delivering.
            _log.warning("inbound.unauthorized", source="stedi", account=name)
            raise
        require_json_content_type(request.headers.get("content-type"))
        body = await read_body(request, svc.settings.max_body_bytes)
        payload = parse_json_object(body, max_depth=svc.settings.max_json_depth)
        return parse_stedi_webhook(
            payload,
            account=account,
            event_id=new_id("evt"),
            body=body,
            headers=clean_headers(request.headers.items(), credential_header_names(account)),
            received_at=now,
        )

    return _ack(await _intake(request, Source.STEDI, verify_and_parse))


async def stedi_destination(request: Request) -> Response:
    """POST /webhooks/stedi/{account}/event-destinations: Standard Webhooks signed events."""
    name = request.path_params["account"]

    async def verify_and_parse(svc: Services) -> InboundEvent:
        account = await _account(svc, name)
        require_json_content_type(request.headers.get("content-type"))
        body = await read_body(request, svc.settings.max_body_bytes)
        now = svc.clock()
        webhook_id = verify_destination_signature(
            account,
            request.headers,
            body,
            now=now,
            max_age_seconds=svc.settings.destination_max_age_seconds,
            max_future_seconds=svc.settings.destination_max_future_seconds,
        )
        payload = parse_json_object(body, max_depth=svc.settings.max_json_depth)
        return parse_destination_event(
            payload,
            account=account,
            webhook_id=webhook_id,
            event_id=new_id("evt"),
            body=body,
            headers=clean_headers(request.headers.items(), ()),
            received_at=now,
        )

    return _ack(await _intake(request, Source.STEDI_DESTINATION, verify_and_parse))


async def optum_coverage_discovery(request: Request) -> Response:
    """POST /callbacks/optum/coverage-discovery: Bearer token from our own token endpoint."""

    async def verify_and_parse(svc: Services) -> InboundEvent:
        await require_scope(request, OPTUM_SCOPE)
        require_json_content_type(request.headers.get("content-type"))
        body = await read_body(request, svc.settings.max_body_bytes)
        payload = parse_json_object(body, max_depth=svc.settings.max_json_depth)
        return parse_coverage_discovery(
            payload,
            event_id=new_id("evt"),
            body=body,
            headers=clean_headers(request.headers.items(), ()),
            received_at=svc.clock(),
        )

    await _intake(request, Source.OPTUM, verify_and_parse)
    return Response(status_code=204)
