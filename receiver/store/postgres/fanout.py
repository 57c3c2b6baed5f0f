"""Fan-out on PostgreSQL: subscriptions, claiming due deliveries, recording attempts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

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
from receiver.store.postgres.base import PostgresBase, placeholder, rowcount
from receiver.store.postgres.replay import replay_in

# pg_advisory_xact_lock key serialising delivery claims ("rcvrdlvr" as ASCII), so the
# per-subscription concurrency limit holds across dispatcher processes.
_CLAIM_LOCK = 0x72637672646C7672
_COLUMNS = fanout_rows.SUBSCRIPTION_COLUMNS.replace(" ", "").split(",")
_SUB_VALUES = ", ".join(
    f"${i}::jsonb" if column == "type_patterns" else f"${i}"
    for i, column in enumerate(_COLUMNS, start=1)
)


class PostgresFanout(PostgresBase):
    """Fan-out on PostgreSQL: subscriptions, claiming due deliveries, recording attempts."""

    # -- subscriptions -------------------------------------------------------------------------
    async def add_subscription(self, subscription: Subscription) -> None:
        """Insert; ConflictError on a taken id."""
        try:
            await self._execute(
                f"INSERT INTO subscriptions ({fanout_rows.SUBSCRIPTION_COLUMNS}) "  # noqa: S608
                f"VALUES ({_SUB_VALUES})",
                *fanout_rows.subscription_params(subscription),
            )
        except ConflictError:
            raise ConflictError(f"a subscription {subscription.id} already exists") from None

    async def fetch_subscription(self, subscription_id: str) -> Subscription | None:
        """By id."""
        row = await self._fetchrow(
            f"SELECT {fanout_rows.SUBSCRIPTION_COLUMNS} FROM subscriptions "  # noqa: S608
            "WHERE id = $1",
            subscription_id,
        )
        return fanout_rows.subscription_from_row(row) if row else None

    async def list_subscriptions(self, *, include_removed: bool = False) -> list[Subscription]:
        """Oldest first."""
        where = "" if include_removed else " WHERE status <> 'removed'"
        found = await self._fetch(
            f"SELECT {fanout_rows.SUBSCRIPTION_COLUMNS} FROM subscriptions{where} "  # noqa: S608
            "ORDER BY seq"
        )
        return [fanout_rows.subscription_from_row(row) for row in found]

    async def update_subscription(self, subscription: Subscription) -> None:
        """Replace by id."""
        values = _SUB_VALUES.split(", ")
        assignments = ", ".join(
            f"{column} = {value}" for column, value in zip(_COLUMNS[1:], values[1:], strict=True)
        )
        count = await self._execute(
            f"UPDATE subscriptions SET {assignments} WHERE id = $1",  # noqa: S608
            *fanout_rows.subscription_params(subscription),
        )
        if count == 0:
            raise NotFoundError(f"no subscription {subscription.id}")

    # -- deliveries ----------------------------------------------------------------------------
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

    async def finish_delivery(
        self, delivery_id: str, *, now: datetime, lease_until: datetime, outcome: AttemptOutcome
    ) -> bool:
        """Attempt row, delivery state and subscription health in one transaction."""
        attempt = outcome.attempt
        error = truncate_error(attempt.error) if attempt.error else None
        async with self._transaction() as conn:
            subscription_id = await conn.fetchval(
                "UPDATE deliveries SET status = $1, attempts = attempts + 1, "
                "lease_until = NULL, next_attempt_at = COALESCE($2, next_attempt_at), "
                "last_status = $3, last_error = $4, updated_at = $5 "
                "WHERE id = $6 AND status = 'running' AND lease_until = $7 "
                "RETURNING subscription_id",
                outcome.next_status.value,
                outcome.next_attempt_at,
                attempt.status_code,
                error,
                now,
                delivery_id,
                lease_until,
            )
            if subscription_id is None:
                return False
            await conn.execute(
                f"INSERT INTO delivery_attempts ({fanout_rows.ATTEMPT_COLUMNS}) "  # noqa: S608
                "VALUES ($1, (SELECT COUNT(*) + 1 FROM delivery_attempts "
                "WHERE delivery_id = $1), $2, $3, $4, $5, $6)",
                delivery_id,
                attempt.started_at,
                attempt.duration_ms,
                attempt.status_code,
                fanout_rows.excerpt(attempt.response_excerpt),
                error,
            )
            if outcome.next_status == DeliveryStatus.DELIVERED:
                await conn.execute(
                    "UPDATE subscriptions SET failing_since = NULL WHERE id = $1",
                    subscription_id,
                )
            else:
                await conn.execute(
                    "UPDATE subscriptions SET failing_since = COALESCE(failing_since, $2) "
                    "WHERE id = $1",
                    subscription_id,
                    attempt.started_at,
                )
            if outcome.disable is not None:
                await conn.execute(
                    "UPDATE subscriptions SET status = $2, disabled_reason = $3, "
                    "updated_at = $4 WHERE id = $1 AND status = 'active'",
                    subscription_id,
                    SubscriptionStatus.DISABLED.value,
                    outcome.disable,
                    now,
                )
            return True

    async def fetch_delivery(self, delivery_id: str) -> Delivery | None:
        """By id."""
        row = await self._fetchrow(
            f"SELECT {fanout_rows.DELIVERY_COLUMNS} FROM deliveries WHERE id = $1",  # noqa: S608
            delivery_id,
        )
        return fanout_rows.delivery_from_row(row) if row else None

    async def list_deliveries(
        self, flt: DeliveryFilter, *, limit: int, cursor: str | None
    ) -> Page[Delivery]:
        """Newest first, cursor on `seq`."""
        where, params = fanout_rows.delivery_conditions(flt, decode_cursor(cursor), placeholder)
        found = await self._fetch(
            f"SELECT {fanout_rows.DELIVERY_COLUMNS} FROM deliveries{where} "  # noqa: S608
            f"ORDER BY seq DESC LIMIT {placeholder(len(params) + 1)}",
            *params,
            check_limit(limit) + 1,
        )
        return rows.page_of(found, limit, fanout_rows.delivery_from_row)

    async def list_attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        """Oldest first."""
        found = await self._fetch(
            f"SELECT {fanout_rows.ATTEMPT_COLUMNS} FROM delivery_attempts "  # noqa: S608
            "WHERE delivery_id = $1 ORDER BY seq",
            delivery_id,
        )
        return [fanout_rows.attempt_from_row(row) for row in found]

    async def revive_delivery(self, delivery_id: str, *, now: datetime) -> bool:
        """Dead -> pending, due now, attempts reset."""
        count = await self._execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, "
            "lease_until = NULL, updated_at = $1 WHERE id = $2 AND status = 'dead'",
            now,
            delivery_id,
        )
        if count:
            await self._execute("SELECT pg_notify($1, '')", self.channel("deliveries"))
        return count > 0

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

    async def count_deliveries_by_status(self) -> dict[str, int]:
        """One GROUP BY over the deliveries table."""
        found = await self._fetch("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
        return {row["status"]: row["n"] for row in found}


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
