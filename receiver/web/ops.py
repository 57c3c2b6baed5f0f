"""Operating routes: events and jobs for ops (Bearer, scope events:read), health, metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import BadRequestError, NotFoundError, StoreUnavailableError
from receiver.models import (
    DeliveryStatus,
    EventFilter,
    Job,
    JobFilter,
    JobStatus,
    StoredEvent,
    TimelineEntry,
)
from receiver.web.deps import ORJSONResponse, require_scope, services

READ_SCOPE = "events:read"
DEFAULT_LIMIT = 50


def event_json(event: StoredEvent) -> dict[str, Any]:
    """The public JSON form of an event; `body` only when it was loaded."""
    out: dict[str, Any] = {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "account": event.account,
        "external_id": event.external_id,
        "status": event.status,
        "received_at": event.received_at.isoformat(),
        "transaction_id": event.transaction_id,
        "transaction_set": event.transaction_set,
        "direction": event.direction,
        "summary": event.summary,
        "headers": event.headers,
    }
    if event.body is not None:
        out["body"] = event.body.decode("utf-8", errors="replace")
    return out


def job_json(job: Job) -> dict[str, Any]:
    """The public JSON form of a job."""
    return {
        "id": job.id,
        "event_id": job.event_id,
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "next_attempt_at": job.next_attempt_at.isoformat(),
        "lease_until": job.lease_until.isoformat() if job.lease_until else None,
        "last_error": job.last_error,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }


def parse_time(name: str, raw: str | None) -> datetime | None:
    """An ISO-8601 query parameter (naive means UTC), or BadRequestError."""
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise BadRequestError(f"{name} must be an ISO-8601 time, not {raw!r}") from None


def parse_limit(raw: str | None) -> int:
    """The `limit` query parameter (1 to 500, default 50)."""
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequestError("limit must be a whole number")
    return int(raw)


def event_filter(query: Any) -> EventFilter:
    """EventFilter from query parameters (shared by the API and the CLI's JSON)."""
    return EventFilter(
        source=query.get("source"),
        type=query.get("type"),
        account=query.get("account"),
        status=query.get("status"),
        since=parse_time("since", query.get("since")),
        until=parse_time("until", query.get("until")),
    )


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
    """GET /events/{id}: the event with its body exactly as received, and its jobs."""
    await require_scope(request, READ_SCOPE)
    store = services(request).store
    event = await store.fetch_event(request.path_params["id"])
    if event is None:
        raise NotFoundError("no such event")
    jobs = await store.list_jobs(JobFilter(event_id=event.id), limit=50, cursor=None)
    return ORJSONResponse({**event_json(event), "jobs": [job_json(j) for j in jobs.items]})


async def list_jobs(request: Request) -> Response:
    """GET /jobs: newest first, filters status, kind, event_id."""
    await require_scope(request, READ_SCOPE)
    query = request.query_params
    flt = JobFilter(
        status=query.get("status"), kind=query.get("kind"), event_id=query.get("event_id")
    )
    page = await services(request).store.list_jobs(
        flt, limit=parse_limit(query.get("limit")), cursor=query.get("cursor")
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
    """GET /claims/{patientControlNumber}: what every event said about one claim, in order."""
    await require_scope(request, READ_SCOPE)
    pcn = request.path_params["pcn"]
    entries = await services(request).store.claim_timeline(pcn)
    if not entries:
        raise NotFoundError("no events mention this claim")
    return ORJSONResponse(
        {"patient_control_number": pcn, "timeline": [timeline_json(e) for e in entries]}
    )


def timeline_json(entry: TimelineEntry) -> dict[str, Any]:
    """The public JSON form of one timeline entry."""
    return {
        "kind": entry.kind,
        "event_id": entry.event_id,
        "transaction_id": entry.transaction_id,
        "received_at": entry.received_at.isoformat(),
        "data": entry.data,
    }
