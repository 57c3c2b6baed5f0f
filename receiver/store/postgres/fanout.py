"""Fan-out on PostgreSQL: claiming due deliveries, requeues and replays (with NOTIFY)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from receiver.models import (
    ClaimedDelivery,
    ReplayCounts,
    ReplayFilter,
    RequeueCounts,
)
from receiver.store import fanout_rows
from receiver.store.deliveries import DeliveryRows
from receiver.store.postgres.base import PostgresBase, rowcount
from receiver.store.postgres.replay import replay_in

# pg_advisory_xact_lock key serialising delivery claims ("rcvrdlvr" as ASCII), so the
# per-subscription concurrency limit holds across dispatcher processes.
_CLAIM_LOCK = 0x72637672646C7672


class PostgresFanout(PostgresBase, DeliveryRows):
    """Fan-out on PostgreSQL: claiming due deliveries, requeues and replays (with NOTIFY)."""

    # -- the claim: the twin that differs (an advisory lock here, the single writer there) --
    async def claim_due_deliveries(
        self, *, now: datetime, lease_seconds: int, limit: int, per_subscription: int
    ) -> list[ClaimedDelivery]:
        """Claims are serialised by a transaction-scoped advisory lock: the per-subscription
        count must see every running delivery, which SKIP LOCKED alone would not give."""
        if limit < 1 or per_subscription < 1:
            return []
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _CLAIM_LOCK)
            ids = await _due_ids(conn, now, limit=limit, per_subscription=per_subscription)
            if not ids:
                return []
            claimed = await conn.fetch(
                "WITH leased AS (UPDATE deliveries SET status = 'running', lease_until = $2, "  # noqa: S608
                "updated_at = $3 WHERE id = ANY($1::text[]) RETURNING *) "
                f"SELECT {fanout_rows.CLAIMED_SQL_COLUMNS} FROM leased d "
                "JOIN outbound_messages m ON m.id = d.message_id "
                "ORDER BY d.next_attempt_at, d.seq",
                ids,
                now + timedelta(seconds=lease_seconds),
                now,
            )
            sub_rows = await conn.fetch(
                f"SELECT {fanout_rows.SUBSCRIPTION_COLUMNS} FROM subscriptions "  # noqa: S608
                "WHERE id = ANY($1::text[])",
                sorted({row["subscription_id"] for row in claimed}),
            )
        subs = {row["id"]: fanout_rows.subscription_from_row(row) for row in sub_rows}
        return [fanout_rows.claimed_from_row(row, subs[row["subscription_id"]]) for row in claimed]

    async def requeue_event_deliveries(
        self, event_id: str, *, now: datetime, subscription_id: str | None = None
    ) -> RequeueCounts:
        """Check, pick and requeue in one transaction; the NOTIFY goes out with the commit.
        A delivery picked while pending or running is left to its dispatcher: it is being
        sent anyway."""
        only, params = "", [event_id]
        if subscription_id is not None:
            only = fanout_rows.ONLY_SUBSCRIPTION_SQL.format(subscription="$2")
            params.append(subscription_id)
        async with self._transaction() as conn:
            check = await conn.fetchrow(
                fanout_rows.REDELIVERY_CHECK_SQL.format(event="$1", subscription="$2::text"),
                event_id,
                subscription_id,
            )
            fanout_rows.check_redelivery(check, event_id=event_id, subscription_id=subscription_id)
            found = await conn.fetch(
                fanout_rows.EVENT_DELIVERIES_SQL.format(event="$1", only=only), *params
            )
            chosen, already_pending = fanout_rows.plan_requeue(found)
            if not chosen:
                return fanout_rows.requeue_counts(0, 0, already_pending)
            status = await conn.execute(
                fanout_rows.REQUEUE_SQL.format(now="$1", ids="id = ANY($2::text[])"),
                now,
                chosen,
            )
            requeued = rowcount(status)
            if requeued:
                await conn.execute("SELECT pg_notify($1, '')", self.channel("deliveries"))
        return fanout_rows.requeue_counts(len(chosen), requeued, already_pending)

    async def requeue_deliveries(
        self, flt: ReplayFilter, *, now: datetime, limit: int, dry_run: bool = False
    ) -> ReplayCounts:
        """Check, count and requeue in one transaction; the NOTIFY goes out with the commit."""
        async with self._transaction() as conn:
            counts = await replay_in(conn, flt, now=now, limit=limit, dry_run=dry_run)
            if counts.requeued:
                await conn.execute("SELECT pg_notify($1, '')", self.channel("deliveries"))
        return counts


async def _due_ids(conn: Any, now: datetime, *, limit: int, per_subscription: int) -> list[str]:
    """The ids to lease (see `fanout_rows.pick_deliveries`), read with indexed queries only:
    the running ones, then the oldest due pending ones of subscriptions with room."""
    busy = {
        row["subscription_id"]: row["n"]
        for row in await conn.fetch(fanout_rows.BUSY_SQL.format(now="$1"), now)
    }
    statuses = await conn.fetch("SELECT id, status FROM subscriptions")
    active = {row["id"] for row in statuses if row["status"] == "active"}
    full = [sub for sub, n in busy.items() if n >= per_subscription]
    full += [row["id"] for row in statuses if row["status"] != "active"]
    candidates = list(
        await conn.fetch(
            fanout_rows.PENDING_DUE_SQL.format(
                now="$1", skip=" AND subscription_id <> ALL($2::text[])", limit="$3"
            ),
            now,
            full,
            limit * 4,
        )
    )
    candidates += await conn.fetch(fanout_rows.EXPIRED_SQL.format(now="$1"), now)
    return fanout_rows.pick_deliveries(
        candidates, busy, active, per_subscription=per_subscription, limit=limit
    )
