"""Fan-out on SQLite: subscriptions, claiming due deliveries, recording attempts."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from receiver.errors import ConflictError, NotFoundError
from receiver.models import (
    AttemptOutcome,
    ClaimedDelivery,
    Delivery,
    DeliveryAttempt,
    DeliveryFilter,
    DeliveryStatus,
    Page,
    ReplayCounts,
    ReplayFilter,
    RequeueCounts,
    Subscription,
    SubscriptionStatus,
)
from receiver.store import fanout_rows, rows
from receiver.store.base import check_limit, decode_cursor, truncate_error
from receiver.store.sqlite.base import SqliteBase, fetch_rows, param, placeholder, to_text
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


class SqliteFanout(SqliteBase):
    """Fan-out on SQLite: subscriptions, claiming due deliveries, recording attempts."""

    # -- subscriptions -------------------------------------------------------------------------
    async def add_subscription(self, subscription: Subscription) -> None:
        """Insert; ConflictError on a taken id."""
        try:
            async with self._transaction() as conn:
                await conn.execute(
                    f"INSERT INTO subscriptions ({fanout_rows.SUBSCRIPTION_COLUMNS}) "  # noqa: S608
                    f"VALUES ({_SUB_MARKS})",
                    [param(v) for v in fanout_rows.subscription_params(subscription)],
                )
        except ConflictError:
            raise ConflictError(f"a subscription {subscription.id} already exists") from None

    async def fetch_subscription(self, subscription_id: str) -> Subscription | None:
        """By id."""
        row = await self._fetchone(
            f"SELECT {fanout_rows.SUBSCRIPTION_COLUMNS} FROM subscriptions "  # noqa: S608
            "WHERE id = ?",
            (subscription_id,),
        )
        return fanout_rows.subscription_from_row(row) if row else None

    async def list_subscriptions(self, *, include_removed: bool = False) -> list[Subscription]:
        """Oldest first."""
        where = "" if include_removed else " WHERE status <> 'removed'"
        found = await self._fetchall(
            f"SELECT {fanout_rows.SUBSCRIPTION_COLUMNS} FROM subscriptions{where} "  # noqa: S608
            "ORDER BY seq"
        )
        return [fanout_rows.subscription_from_row(row) for row in found]

    async def update_subscription(self, subscription: Subscription) -> None:
        """Replace by id."""
        columns = fanout_rows.SUBSCRIPTION_COLUMNS.replace(" ", "").split(",")[1:]
        assignments = ", ".join(f"{column} = ?" for column in columns)
        async with self._transaction() as conn:
            cur = await conn.execute(
                f"UPDATE subscriptions SET {assignments} WHERE id = ?",  # noqa: S608
                [
                    *(param(v) for v in fanout_rows.subscription_params(subscription)[1:]),
                    subscription.id,
                ],
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"no subscription {subscription.id}")

    # -- deliveries ----------------------------------------------------------------------------
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

    async def finish_delivery(
        self, delivery_id: str, *, now: datetime, lease_until: datetime, outcome: AttemptOutcome
    ) -> bool:
        """Attempt row, delivery state and subscription health in one write."""
        attempt = outcome.attempt
        failed = outcome.next_status != DeliveryStatus.DELIVERED
        error = truncate_error(attempt.error) if attempt.error else None

        def finish(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, lease_until = NULL, "
                "next_attempt_at = COALESCE(?, next_attempt_at), last_status = ?, "
                "last_error = ?, updated_at = ? "
                "WHERE id = ? AND status = 'running' AND lease_until = ?",
                (
                    outcome.next_status.value,
                    to_text(outcome.next_attempt_at) if outcome.next_attempt_at else None,
                    attempt.status_code,
                    error,
                    to_text(now),
                    delivery_id,
                    to_text(lease_until),
                ),
            )
            if cur.rowcount == 0:
                return False
            conn.execute(
                f"INSERT INTO delivery_attempts ({fanout_rows.ATTEMPT_COLUMNS}) "  # noqa: S608
                "VALUES (?, (SELECT COUNT(*) + 1 FROM delivery_attempts WHERE delivery_id = ?), "
                "?, ?, ?, ?, ?)",
                (
                    delivery_id,
                    delivery_id,
                    to_text(attempt.started_at),
                    attempt.duration_ms,
                    attempt.status_code,
                    fanout_rows.excerpt(attempt.response_excerpt),
                    error,
                ),
            )
            sub_where = "id = (SELECT subscription_id FROM deliveries WHERE id = ?)"
            if failed:
                conn.execute(
                    "UPDATE subscriptions SET failing_since = COALESCE(failing_since, ?) "  # noqa: S608
                    f"WHERE {sub_where}",
                    (to_text(attempt.started_at), delivery_id),
                )
            else:
                conn.execute(
                    "UPDATE subscriptions SET failing_since = NULL "  # noqa: S608
                    f"WHERE {sub_where} AND failing_since IS NOT NULL",
                    (delivery_id,),
                )
            if outcome.disable is not None:
                conn.execute(
                    "UPDATE subscriptions SET status = ?, disabled_reason = ?, "  # noqa: S608
                    f"updated_at = ? WHERE {sub_where} AND status = 'active'",
                    (
                        SubscriptionStatus.DISABLED.value,
                        outcome.disable,
                        to_text(now),
                        delivery_id,
                    ),
                )
            return True

        return await self._write_grouped(finish)

    async def fetch_delivery(self, delivery_id: str) -> Delivery | None:
        """By id."""
        row = await self._fetchone(
            f"SELECT {fanout_rows.DELIVERY_COLUMNS} FROM deliveries WHERE id = ?",  # noqa: S608
            (delivery_id,),
        )
        return fanout_rows.delivery_from_row(row) if row else None

    async def list_deliveries(
        self, flt: DeliveryFilter, *, limit: int, cursor: str | None
    ) -> Page[Delivery]:
        """Newest first, cursor on `seq`."""
        where, params = fanout_rows.delivery_conditions(flt, decode_cursor(cursor), placeholder)
        found = await self._fetchall(
            f"SELECT {fanout_rows.DELIVERY_COLUMNS} FROM deliveries{where} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, fanout_rows.delivery_from_row)

    async def list_attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        """Oldest first."""
        found = await self._fetchall(
            f"SELECT {fanout_rows.ATTEMPT_COLUMNS} FROM delivery_attempts "  # noqa: S608
            "WHERE delivery_id = ? ORDER BY seq",
            (delivery_id,),
        )
        return [fanout_rows.attempt_from_row(row) for row in found]

    async def revive_delivery(self, delivery_id: str, *, now: datetime) -> bool:
        """Dead -> pending, due now, attempts reset."""

        def revive(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                "lease_until = NULL, updated_at = ? WHERE id = ? AND status = 'dead'",
                (to_text(now), to_text(now), delivery_id),
            )
            return cur.rowcount > 0

        return await self._write_grouped(revive)

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

    async def count_deliveries_by_status(self) -> dict[str, int]:
        """One GROUP BY over the deliveries table."""
        found = await self._fetchall("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
        return {row["status"]: row["n"] for row in found}
