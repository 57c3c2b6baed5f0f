"""A bulk replay's one write on SQLite's writer thread: check, count, requeue."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime

from receiver.models import ReplayCounts, ReplayFilter
from receiver.store import fanout_rows, replay_rows
from receiver.store.sqlite.base import to_text

# Ids per UPDATE: well under SQLite's limit on bound parameters, however big the replay.
_CHUNK = 500


def replay_write(
    flt: ReplayFilter, *, now: datetime, limit: int, dry_run: bool
) -> Callable[[sqlite3.Connection], ReplayCounts]:
    """The write `SqliteFanout.requeue_deliveries` submits (see `Store.requeue_deliveries`)."""
    replay_rows.check_replay(flt)
    sub = flt.subscription_id
    window: list[object] = [to_text(flt.since), to_text(flt.until)]
    only = ""
    if sub is not None:
        only = replay_rows.ONLY_SUBSCRIPTION_SQL.format(subscription="?3")
        window.append(sub)
    marks = {"since": "?1", "until": "?2", "only": only}

    def write(conn: sqlite3.Connection) -> ReplayCounts:
        if sub is not None:
            found = conn.execute(
                replay_rows.SUBSCRIPTION_STATUS_SQL.format(subscription="?"), (sub,)
            ).fetchone()
            fanout_rows.check_resend_subscription(found[0] if found else None, sub)
        counted = conn.execute(replay_rows.WINDOW_COUNTS_SQL.format(**marks), window)
        plan = replay_rows.plan_replay(dict(counted.fetchall()), flt, limit=limit)
        if dry_run:
            return plan
        replay_rows.check_replay_limit(plan, limit=limit)
        sql = replay_rows.window_ids_sql(flt, status_column="+d.status", **marks)
        chosen = [row[0] for row in conn.execute(sql, window)]
        return replay_rows.replay_done(plan, len(chosen), requeue_ids(conn, chosen, now))

    return write


def requeue_ids(conn: sqlite3.Connection, ids: list[str], now: datetime) -> int:
    """`REQUEUE_SQL` on these delivery ids, `_CHUNK` at a time; how many rows it changed."""
    now_text = to_text(now)
    requeued = 0
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        cur = conn.execute(
            fanout_rows.REQUEUE_SQL.format(now="?", ids=f"id IN ({', '.join('?' * len(chunk))})"),
            [now_text, now_text, *chunk],
        )
        requeued += cur.rowcount
    return requeued
