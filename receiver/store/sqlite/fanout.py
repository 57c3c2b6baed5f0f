"""Fan-out on SQLite: claiming due deliveries, requeues and replays, on the single writer."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from receiver.models import (
    ClaimedDelivery,
    ReplayCounts,
    ReplayFilter,
    RequeueCounts,
)
from receiver.store import fanout_rows
from receiver.store.deliveries import DeliveryRows
from receiver.store.sqlite.base import SqliteBase, fetch_rows, to_text
from receiver.store.sqlite.replay import replay_write, requeue_ids

_SUB_MARKS = ", ".join("?" * len(fanout_rows.SUBSCRIPTION_COLUMNS.split(",")))


def _due_ids(
    conn: sqlite3.Connection, now_text: str, *, limit: int, per_subscription: int
) -> list[str]:
    """The ids to lease (see `fanout_rows.pick_deliveries`), read with indexed queries only:
    the running ones, then the oldest due pending ones of subscriptions with room."""
    busy = {
        row[0]: row[1] for row in conn.execute(fanout_rows.BUSY_SQL.format(now="?"), (now_text,))
    }
    active = {
        row[0] for row in conn.execute("SELECT id FROM subscriptions WHERE status = 'active'")
    }
    full = [sub for sub, n in busy.items() if n >= per_subscription]
    full += [
        row[0] for row in conn.execute("SELECT id FROM subscriptions WHERE status <> 'active'")
    ]
    skip = f" AND subscription_id NOT IN ({', '.join('?' for _ in full)})" if full else ""
    candidates = fetch_rows(
        conn,
        fanout_rows.PENDING_DUE_SQL.format(now="?", skip=skip, limit="?"),
        [now_text, *full, limit * 4],
    )
    candidates += fetch_rows(conn, fanout_rows.EXPIRED_SQL.format(now="?"), [now_text])
    return fanout_rows.pick_deliveries(
        candidates, busy, active, per_subscription=per_subscription, limit=limit
    )


class SqliteFanout(SqliteBase, DeliveryRows):
    """Fan-out on SQLite: claiming due deliveries, requeues and replays, on the single writer."""

    # -- the claim: the twin that differs (an advisory lock here, the single writer there) --
    async def claim_due_deliveries(
        self, *, now: datetime, lease_seconds: int, limit: int, per_subscription: int
    ) -> list[ClaimedDelivery]:
        """Pick and lease in one write on the writer thread (SQLite has one writer)."""
        if limit < 1 or per_subscription < 1:
            return []
        now_text = to_text(now)
        lease_text = to_text(now + timedelta(seconds=lease_seconds))

        def claim(conn: sqlite3.Connection) -> list[ClaimedDelivery]:
            ids = _due_ids(conn, now_text, limit=limit, per_subscription=per_subscription)
            if not ids:
                return []
            marks = ", ".join("?" for _ in ids)
            conn.execute(
                "UPDATE deliveries SET status = 'running', lease_until = ?, "  # noqa: S608
                f"updated_at = ? WHERE id IN ({marks})",
                [lease_text, now_text, *ids],
            )
            claimed = fetch_rows(
                conn,
                f"SELECT {fanout_rows.CLAIMED_SQL_COLUMNS} FROM deliveries d "  # noqa: S608
                "JOIN outbound_messages m ON m.id = d.message_id "
                f"WHERE d.id IN ({marks}) ORDER BY d.next_attempt_at, d.seq",
                ids,
            )
            sub_ids = sorted({row["subscription_id"] for row in claimed})
            subs = {
                row["id"]: fanout_rows.subscription_from_row(row)
                for row in fetch_rows(
                    conn,
                    f"SELECT {fanout_rows.SUBSCRIPTION_COLUMNS} FROM subscriptions "  # noqa: S608
                    f"WHERE id IN ({', '.join('?' for _ in sub_ids)})",
                    sub_ids,
                )
            }
            return [
                fanout_rows.claimed_from_row(row, subs[row["subscription_id"]]) for row in claimed
            ]

        return await self._write_grouped(claim)

    async def requeue_event_deliveries(
        self, event_id: str, *, now: datetime, subscription_id: str | None = None
    ) -> RequeueCounts:
        """Check, pick and requeue in one write on the writer thread."""

        def requeue(conn: sqlite3.Connection) -> RequeueCounts:
            check = fetch_rows(
                conn,
                fanout_rows.REDELIVERY_CHECK_SQL.format(event="?1", subscription="?2"),
                [event_id, subscription_id],
            )
            fanout_rows.check_redelivery(
                check[0] if check else None, event_id=event_id, subscription_id=subscription_id
            )
            only, params = "", [event_id]
            if subscription_id is not None:
                only = fanout_rows.ONLY_SUBSCRIPTION_SQL.format(subscription="?2")
                params.append(subscription_id)
            found = fetch_rows(
                conn, fanout_rows.EVENT_DELIVERIES_SQL.format(event="?1", only=only), params
            )
            chosen, already_pending = fanout_rows.plan_requeue(found)
            requeued = requeue_ids(conn, chosen, now)
            return fanout_rows.requeue_counts(len(chosen), requeued, already_pending)

        return await self._write_grouped(requeue)

    async def requeue_deliveries(
        self, flt: ReplayFilter, *, now: datetime, limit: int, dry_run: bool = False
    ) -> ReplayCounts:
        """Check, count and requeue in one write on the writer thread."""
        return await self._write_grouped(replay_write(flt, now=now, limit=limit, dry_run=dry_run))
