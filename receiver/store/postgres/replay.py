"""A bulk replay inside one PostgreSQL transaction: check, count, requeue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from receiver.models import ReplayCounts, ReplayFilter
from receiver.store import fanout_rows, replay_rows
from receiver.store.postgres.base import rowcount


async def replay_in(
    conn: Any, flt: ReplayFilter, *, now: datetime, limit: int, dry_run: bool
) -> ReplayCounts:
    """On `conn`, inside the caller's transaction (see `Store.requeue_deliveries`). A
    delivery picked while pending or running is left to its dispatcher, as in
    `requeue_event_deliveries`."""
    replay_rows.check_replay(flt)
    sub = flt.subscription_id
    window: list[object] = [flt.since, flt.until]
    only = ""
    if sub is not None:
        status = await conn.fetchval(
            replay_rows.SUBSCRIPTION_STATUS_SQL.format(subscription="$1"), sub
        )
        fanout_rows.check_resend_subscription(status, sub)
        only = replay_rows.ONLY_SUBSCRIPTION_SQL.format(subscription="$3")
        window.append(sub)
    marks = {"since": "$1", "until": "$2", "only": only}
    counted = await conn.fetch(replay_rows.WINDOW_COUNTS_SQL.format(**marks), *window)
    plan = replay_rows.plan_replay({row["status"]: row["n"] for row in counted}, flt, limit=limit)
    if dry_run:
        return plan
    replay_rows.check_replay_limit(plan, limit=limit)
    sql = replay_rows.window_ids_sql(flt, status_column="d.status", **marks)
    chosen = [row["id"] for row in await conn.fetch(sql, *window)]
    if not chosen:
        return replay_rows.replay_done(plan, 0, 0)
    status_line = await conn.execute(
        fanout_rows.REQUEUE_SQL.format(now="$1", ids="id = ANY($2::text[])"), now, chosen
    )
    return replay_rows.replay_done(plan, len(chosen), rowcount(status_line))
