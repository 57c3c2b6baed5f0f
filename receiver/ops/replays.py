"""Bulk replay: resend the deliveries of messages published in a time window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from receiver.errors import BadRequestError
from receiver.intake.body import parse_json_object
from receiver.models import DeliveryStatus, ReplayCounts, ReplayFilter
from receiver.ops.events import parse_time
from receiver.store.ports import ReplayLog

REPLAY_FIELDS = frozenset({"since", "until", "subscription_id", "status", "dry_run"})


REPLAY_STATUSES: dict[str, tuple[DeliveryStatus, ...]] = {
    "dead": (DeliveryStatus.DEAD,),
    "delivered": (DeliveryStatus.DELIVERED,),
    "all": (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD),
}
_log = structlog.get_logger("receiver.replays")


def parse_instant(name: str, raw: object) -> datetime:
    """An ISO-8601 time with a timezone (`Z` or an offset); BadRequestError otherwise,
    naive times included: a window must not depend on the server's idea of local time."""
    if not isinstance(raw, str):
        raise BadRequestError(f"{name} must be an ISO-8601 time with a timezone (a string)")
    value = parse_time(name, raw)
    if value is None or datetime.fromisoformat(raw.replace("Z", "+00:00")).tzinfo is None:
        raise BadRequestError(f"{name} must have a timezone (Z or an offset), not {raw!r}")
    return value


def replay_filter(
    *,
    since: object,
    until: object = None,
    subscription_id: object = None,
    status: object = "dead",
    now: datetime,
) -> ReplayFilter:
    """A ReplayFilter from raw values (JSON body fields or CLI options): `until` defaults to
    `now`; BadRequestError for anything malformed or an empty window."""
    if since is None:
        raise BadRequestError("since is required (an ISO-8601 time with a timezone)")
    start = parse_instant("since", since)
    end = now if until is None else parse_instant("until", until)
    if end <= start:
        raise BadRequestError("until must be later than since")
    if not isinstance(status, str) or status not in REPLAY_STATUSES:
        raise BadRequestError(f"status must be one of {', '.join(REPLAY_STATUSES)}")
    return ReplayFilter(
        since=start,
        until=end,
        subscription_id=_subscription_id(subscription_id),
        statuses=REPLAY_STATUSES[status],
    )


def _subscription_id(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise BadRequestError("subscription_id must be a subscription id (a string)")
    return raw


def parse_replay(body: bytes, *, max_depth: int, now: datetime) -> tuple[ReplayFilter, bool]:
    """The filter and `dry_run` flag of a POST /replays body; BadRequestError for anything
    but a JSON object of the known fields with valid values."""
    fields = parse_json_object(body, max_depth=max_depth) if body else {}
    unknown = sorted(set(fields) - REPLAY_FIELDS)
    if unknown:
        raise BadRequestError(
            f"unknown field {', '.join(unknown)}; the fields are {', '.join(sorted(REPLAY_FIELDS))}"
        )
    dry_run = fields.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadRequestError("dry_run must be true or false")
    flt = replay_filter(
        since=fields.get("since"),
        until=fields.get("until"),
        subscription_id=fields.get("subscription_id"),
        status=fields.get("status", "dead"),
        now=now,
    )
    return flt, dry_run


def replay_json(counts: ReplayCounts, *, dry_run: bool) -> dict[str, Any]:
    """The answer's JSON: a dry run's preview, or what the replay did."""
    if dry_run:
        return {
            "dry_run": True,
            "would_requeue": counts.matched,
            "already_pending": counts.already_pending,
            "over_limit": counts.over_limit,
        }
    return {"requeued": counts.requeued, "already_pending": counts.already_pending}


async def replay(
    store: ReplayLog, flt: ReplayFilter, *, now: datetime, limit: int, dry_run: bool
) -> dict[str, Any]:
    """Run (or preview) a replay; the answer's JSON (see `replay_json`)."""
    counts = await store.requeue_deliveries(flt, now=now, limit=limit, dry_run=dry_run)
    return replay_json(counts, dry_run=dry_run)


def log_replay(flt: ReplayFilter, answer: dict[str, Any], *, dry_run: bool) -> None:
    """One `replay.requested` line: the filter (ids and times only) and the counts."""
    _log.info(
        "replay.requested",
        since=flt.since.isoformat(),
        until=flt.until.isoformat(),
        subscription_id=flt.subscription_id,
        statuses=[s.value for s in flt.statuses],
        dry_run=dry_run,
        **{key: value for key, value in answer.items() if key != "dry_run"},
    )
