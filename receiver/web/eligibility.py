"""Eligibility routes (scope eligibility:write): a real-time check, a batch submission and a
batch's progress."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from receiver.eligibility.records import Origin
from receiver.errors import BadRequestError, ReceiverError
from receiver.intake.body import parse_json_object, require_json_content_type
from receiver.ops import eligibility as use
from receiver.upstream.stedi_eligibility import StediEligibilityClient
from receiver.web.body import read_body
from receiver.web.deps import ORJSONResponse, require_scope, services
from receiver.web.services import Services

WRITE_SCOPE = "eligibility:write"
BATCH_FIELDS = frozenset({"account", "items"})
WARNINGS_HEADER = "x-eligibility-warnings"


def _client(svc: Services) -> StediEligibilityClient:
    if svc.eligibility is None:
        raise ReceiverError("the eligibility client is not configured")
    return svc.eligibility


async def _body(request: Request, svc: Services) -> dict[str, Any]:
    require_json_content_type(request.headers.get("content-type"))
    return parse_json_object(
        await read_body(request, svc.settings.max_body_bytes),
        max_depth=svc.settings.max_json_depth,
    )


def _invalid(exc: use.InvalidChecksError) -> Response:
    return ORJSONResponse(
        {"error": exc.code, "detail": exc.detail, "errors": use.issues_json(exc.issues)},
        status_code=400,
    )


async def create_check(request: Request) -> Response:
    """POST /eligibility/checks: Stedi's answer (200), stored and published; the rules'
    warnings in `x-eligibility-warnings` (a JSON list of `{path, message}`)."""
    await require_scope(request, WRITE_SCOPE)
    svc = services(request)
    body = await _body(request, svc)
    try:
        outcome = await use.run_check(
            svc.store,
            _client(svc),
            body,
            today=svc.clock().date(),
            now=svc.clock,
            deadline_seconds=svc.settings.eligibility_deadline_seconds,
        )
    except use.InvalidChecksError as exc:
        return _invalid(exc)
    if svc.wakeup is not None:
        svc.wakeup.notify()
    headers = {"x-eligibility-event-id": outcome.event_id}
    if outcome.warnings:
        headers[WARNINGS_HEADER] = orjson.dumps(use.issues_json(outcome.warnings)).decode()
    return ORJSONResponse(outcome.response, headers=headers)


async def create_batch(request: Request) -> Response:
    """POST /eligibility/batches: 202 with the local id and Stedi's batch ids."""
    await require_scope(request, WRITE_SCOPE)
    svc = services(request)
    body = await _body(request, svc)
    unknown = sorted(set(body) - BATCH_FIELDS)
    if unknown:
        raise BadRequestError(
            f"unknown field {', '.join(unknown)}; fields are {', '.join(sorted(BATCH_FIELDS))}"
        )
    try:
        submitted = await use.submit_checks(
            svc.store,
            _client(svc),
            account_name=body.get("account"),
            items=body.get("items"),
            origin=Origin.API,
            today=svc.clock().date(),
            now=svc.clock,
            batch_size=svc.settings.eligibility_batch_size,
        )
    except use.InvalidChecksError as exc:
        return _invalid(exc)
    return ORJSONResponse(use.submitted_json(submitted), status_code=202)


async def show_batch(request: Request) -> Response:
    """GET /eligibility/batches/{id}: the submission's progress."""
    await require_scope(request, WRITE_SCOPE)
    svc = services(request)
    return ORJSONResponse(await use.progress(svc.store, request.path_params["id"]))
