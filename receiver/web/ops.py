"""Operating routes: events and jobs for ops (Bearer, scope events:read), health, metrics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import NotFoundError, StoreUnavailableError
from receiver.models import (
    DeliveryStatus,
    JobFilter,
    JobStatus,
)
from receiver.ops.events import (
    event_filter,
    event_json,
    job_filter,
    job_json,
    parse_limit,
    read_event,
    read_timeline,
    timeline_json,
)
from receiver.web.deps import ORJSONResponse, require_actor, require_scope, services

READ_SCOPE = "events:read"


async def list_events(request: Request) -> Response:
    """GET /events: newest first, filters and cursor paging."""
    await require_scope(request, READ_SCOPE)
    query = request.query_params
    page = await services(request).store.list_events(
        event_filter(query), limit=parse_limit(query.get("limit")), cursor=query.get("cursor")
    )
    return ORJSONResponse(
        {"items": [event_json(e) for e in page.items], "next_cursor": page.next_cursor}
    )


async def show_event(request: Request) -> Response:
    """GET /events/{id}: the event with its body exactly as received, and its jobs (the read
    is audited)."""
    actor = await require_actor(request, READ_SCOPE)
    svc = services(request)
    store = svc.store
    event = await read_event(store, request.path_params["id"], now=svc.clock(), actor=actor)
    if event is None:
        raise NotFoundError("no such event")
    jobs = await store.list_jobs(JobFilter(event_id=event.id), limit=50, cursor=None)
    return ORJSONResponse({**event_json(event), "jobs": [job_json(j) for j in jobs.items]})


async def list_jobs(request: Request) -> Response:
    """GET /jobs: newest first, filters status, kind, event_id."""
    await require_scope(request, READ_SCOPE)
    query = request.query_params
    page = await services(request).store.list_jobs(
        job_filter(query), limit=parse_limit(query.get("limit")), cursor=query.get("cursor")
    )
    return ORJSONResponse(
        {"items": [job_json(j) for j in page.items], "next_cursor": page.next_cursor}
    )


async def healthz(request: Request) -> Response:
    """GET /healthz: the process answers."""
    return ORJSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """GET /readyz: the store answers."""
    try:
        await services(request).store.ping()
    except StoreUnavailableError:
        return ORJSONResponse(
            {"status": "unavailable", "detail": "store is not reachable"}, status_code=503
        )
    return ORJSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus text; queue depths are read from the store at scrape time."""
    svc = services(request)
    try:
        jobs = await svc.store.count_jobs_by_status()
        deliveries = await svc.store.count_deliveries_by_status()
    except StoreUnavailableError:
        pass  # the rest of the metrics are still worth serving
    else:
        for state in JobStatus:
            svc.metrics.jobs.labels(state.value).set(jobs.get(state.value, 0))
        for status in DeliveryStatus:
            svc.metrics.deliveries.labels(status.value).set(deliveries.get(status.value, 0))
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def claim_timeline(request: Request) -> Response:
    """GET /claims/{patientControlNumber}: what every event said about one claim, in order
    (the read is audited)."""
    actor = await require_actor(request, READ_SCOPE)
    svc = services(request)
    pcn = request.path_params["pcn"]
    entries = await read_timeline(svc.store, pcn, now=svc.clock(), actor=actor)
    if not entries:
        raise NotFoundError("no events mention this claim")
    return ORJSONResponse(
        {"patient_control_number": pcn, "timeline": [timeline_json(e) for e in entries]}
    )
