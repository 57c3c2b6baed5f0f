"""Retention: purge the raw bodies and documents of old, settled events (metadata, messages,
claims and the audit trail kept), audited; and the schedule `serve` runs it on."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import structlog

from receiver.clock import Clock
from receiver.errors import BadRequestError, StoreUnavailableError
from receiver.models import Actor, AuditAction
from receiver.ops.trail import record
from receiver.store.base import Store

BATCH = 500  # events per purge transaction: each holds the write lock only briefly
SCHEDULE_SECONDS = 3600.0  # how often `serve` purges when RECEIVER_RETENTION_DAYS is set
SCHEDULE_ACTOR = Actor(who="serve:retention", request_id="retention")
_AGE = re.compile(r"^([1-9][0-9]{0,5})([dh])$")

_log = structlog.get_logger("receiver.retention")


def parse_age(raw: str) -> timedelta:
    """`30d` or `12h` as a timedelta; BadRequestError for anything else."""
    match = _AGE.match(raw.strip())
    if match is None:
        raise BadRequestError(f"an age is a whole number of days or hours (30d, 12h), not {raw!r}")
    number, unit = int(match[1]), match[2]
    return timedelta(days=number) if unit == "d" else timedelta(hours=number)


async def purge(
    store: Store,
    older_than: timedelta,
    *,
    now: datetime,
    dry_run: bool,
    actor: Actor,
    batch: int = BATCH,
    convert_vacuum: bool = True,
) -> dict[str, Any]:
    """Purge (or count) what was received more than `older_than` before `now`, reclaim the
    space (see `reclaim_space`; `convert_vacuum` lets SQLite rewrite the file once to turn
    incremental vacuum on), and audit a run; the answer's JSON: `before`, `events`,
    `documents`, `bytes` (and `reclaimed_bytes`, or `dry_run`)."""
    before = now - older_than
    counts = await store.purge_bodies(before=before, now=now, batch=batch, dry_run=dry_run)
    answer: dict[str, Any] = {
        "before": before.isoformat(),
        "events": counts.events,
        "documents": counts.documents,
        "bytes": counts.bytes,
    }
    if dry_run:
        return {"dry_run": True, **answer}
    answer["reclaimed_bytes"] = (
        await store.reclaim_space(convert=convert_vacuum) if counts.events else 0
    )
    tally = {k: v for k, v in answer.items() if isinstance(v, int)}
    await record(
        store,
        actor,
        AuditAction.PURGE,
        now=now,
        filter={"before": before.isoformat()},
        counts=tally,
    )
    return answer


async def run_retention(
    store: Store, clock: Clock, *, days: int, stop: asyncio.Event, every: float = SCHEDULE_SECONDS
) -> None:
    """Purge what is older than `days` now and then every `every` seconds, until `stop`; a
    store that cannot be reached is logged and tried again at the next round. It never runs
    SQLite's one-time VACUUM, which would hold intake back for the whole rewrite: that is
    `receiver purge`'s to do."""
    while not stop.is_set():
        try:
            answer = await purge(
                store,
                timedelta(days=days),
                now=clock(),
                dry_run=False,
                actor=SCHEDULE_ACTOR,
                convert_vacuum=False,
            )
        except StoreUnavailableError as exc:
            _log.warning("retention.failed", error=type(exc).__name__)
        else:
            _log.info(
                "retention.purged",
                events=answer["events"],
                documents=answer["documents"],
                reclaimed_bytes=answer["reclaimed_bytes"],
            )
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            continue
