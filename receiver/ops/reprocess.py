"""Reprocess: run an event's follow-up again (fetch again, publish again), or revive the dead
jobs a filter matches, counted first; both audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from receiver.errors import BadRequestError
from receiver.models import Actor, AuditAction
from receiver.ops.filters import JOB_KINDS, one_of
from receiver.ops.replays import parse_instant
from receiver.ops.trail import record
from receiver.store.base import Store
from receiver.store.reprocess_sql import DeadJobFilter


async def reprocess_event(
    store: Store, event_id: str, *, now: datetime, actor: Actor
) -> dict[str, Any]:
    """Queue the event's follow-up to run again, and audit it; the answer's JSON:
    `event_id`, `queued` (False: a reprocess of it is still pending or running).
    NotFoundError for an unknown event."""
    queued = await store.queue_reprocess(event_id, now=now)
    counts = {"queued": int(queued)}
    await record(store, actor, AuditAction.EVENT_REPROCESS, now=now, target=event_id, counts=counts)
    return {"event_id": event_id, "queued": queued}


def dead_job_filter(
    *,
    since: object,
    until: object = None,
    account: object = None,
    kind: object = None,
    now: datetime,
) -> DeadJobFilter:
    """A DeadJobFilter from raw values: `since` required and `until` (default `now`) with a
    timezone, on the jobs' creation time; BadRequestError for anything malformed."""
    if since is None:
        raise BadRequestError("since is required (an ISO-8601 time with a timezone)")
    start = parse_instant("since", since)
    end = now if until is None else parse_instant("until", until)
    if end <= start:
        raise BadRequestError("until must be later than since")
    if account is not None and (not isinstance(account, str) or not account):
        raise BadRequestError("account must be a non-empty string")
    return DeadJobFilter(
        since=start,
        until=end,
        account=account if isinstance(account, str) else None,
        kind=one_of("kind", kind, JOB_KINDS),
    )


REVIVE_CHUNK = 500
"""Dead jobs revived per transaction in a bulk reprocess: each write stays short."""


async def reprocess_dead_jobs(
    store: Store,
    flt: DeadJobFilter,
    *,
    now: datetime,
    dry_run: bool,
    actor: Actor,
    progress: Callable[[int, int], None] = lambda done, total: None,
    chunk: int = REVIVE_CHUNK,
) -> dict[str, Any]:
    """Count (a dry run) or revive the dead jobs `flt` matches, auditing a run; the answer's
    JSON: `{"dry_run": true, "would_revive"}` or `{"revived"}`.

    The matching ids are read once, then revived `chunk` at a time, `progress` hearing
    (done, total) after each chunk; a job that dies again meanwhile is not revived twice in one
    run, and a second run finds only what died since."""
    ids = await store.dead_job_ids(flt)
    if dry_run:
        return {"dry_run": True, "would_revive": len(ids)}
    revived = 0
    progress(0, len(ids))
    for start in range(0, len(ids), chunk):
        some = ids[start : start + chunk]
        revived += await store.revive_dead_jobs(some, now=now)
        progress(start + len(some), len(ids))
    scope = {
        "since": flt.since.isoformat(),
        "until": flt.until.isoformat(),
        "account": flt.account,
        "kind": flt.kind,
    }
    answer = {"revived": revived}
    await record(store, actor, AuditAction.JOBS_REPROCESS, now=now, filter=scope, counts=answer)
    return answer
