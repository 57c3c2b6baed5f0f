"""Events, jobs and claim timelines as ops see them: filters from raw input, JSON renderings,
the audited reads of PHI (an event's body, a claim's timeline) and a job's retry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from receiver.errors import BadRequestError
from receiver.models import (
    Actor,
    AuditAction,
    EventFilter,
    Job,
    JobFilter,
    StoredEvent,
    TimelineEntry,
)
from receiver.ops.filters import EVENT_STATUSES, JOB_KINDS, JOB_STATUSES, SOURCES, one_of
from receiver.ops.trail import record
from receiver.store.base import Store

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
    """EventFilter from query parameters or CLI options (the API and the CLI share it);
    BadRequestError for an unknown source or status, or a malformed time."""
    return EventFilter(
        source=one_of("source", query.get("source"), SOURCES),
        type=query.get("type"),
        account=query.get("account"),
        status=one_of("status", query.get("status"), EVENT_STATUSES),
        since=parse_time("since", query.get("since")),
        until=parse_time("until", query.get("until")),
    )


def job_filter(query: Any) -> JobFilter:
    """JobFilter from query parameters or CLI options (the API and the CLI share it);
    BadRequestError for an unknown status or kind."""
    return JobFilter(
        status=one_of("status", query.get("status"), JOB_STATUSES),
        kind=one_of("kind", query.get("kind"), JOB_KINDS),
        event_id=query.get("event_id"),
    )


def timeline_json(entry: TimelineEntry) -> dict[str, Any]:
    """The public JSON form of one timeline entry."""
    return {
        "kind": entry.kind,
        "event_id": entry.event_id,
        "transaction_id": entry.transaction_id,
        "received_at": entry.received_at.isoformat(),
        "revision": entry.revision,
        "data": entry.data,
    }


async def read_event(
    store: Store, event_id: str, *, now: datetime, actor: Actor
) -> StoredEvent | None:
    """An event with its body (PHI), the read audited before it is handed out; None (and
    nothing audited) if there is no such event."""
    event = await store.fetch_event(event_id)
    if event is not None:
        await record(store, actor, AuditAction.EVENT_READ, now=now, target=event.id)
    return event


async def read_timeline(
    store: Store, patient_control_number: str, *, now: datetime, actor: Actor
) -> list[TimelineEntry]:
    """A claim's timeline (PHI), the read audited before it is handed out (nothing audited
    when no event mentions the claim)."""
    entries = await store.claim_timeline(patient_control_number)
    if entries:
        counts = {"entries": len(entries)}
        await record(
            store,
            actor,
            AuditAction.CLAIM_READ,
            now=now,
            target=patient_control_number,
            counts=counts,
        )
    return entries


async def retry_job(store: Store, job_id: str, *, now: datetime, actor: Actor) -> bool:
    """Put a dead job back in the queue, audited; False (nothing audited) if it is not dead."""
    if not await store.revive_job(job_id, now=now):
        return False
    await record(
        store, actor, AuditAction.JOB_RETRY, now=now, target=job_id, counts={"requeued": 1}
    )
    return True
