"""Subscriptions, delivery listings and attempts, written once in `?`-style SQL."""

from __future__ import annotations

from datetime import datetime

from receiver.errors import ConflictError, NotFoundError
from receiver.models import (
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryFilter,
    DeliveryStatus,
    Page,
    Subscription,
    SubscriptionStatus,
)
from receiver.store import fanout_rows, rows
from receiver.store.base import check_limit, decode_cursor, truncate_error
from receiver.store.sql import SqlCalls, Statement, marks

_COLUMNS = fanout_rows.SUBSCRIPTION_COLUMNS.replace(" ", "").split(",")
_OF_DELIVERY = "id = (SELECT subscription_id FROM deliveries WHERE id = ?)"


def _mark(_: int) -> str:
    return "?"


def finish_statements(
    delivery_id: str, *, now: datetime, lease_until: datetime, outcome: AttemptOutcome
) -> list[Statement]:
    """A leased delivery's attempt: its state (guarded by the lease), the attempt row, and
    its subscription's health (failing since the first failure; disabled if decided)."""
    attempt = outcome.attempt
    error = truncate_error(attempt.error) if attempt.error else None
    statements = [
        Statement(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, lease_until = NULL, "
            "next_attempt_at = COALESCE(?, next_attempt_at), last_status = ?, "
            "last_error = ?, updated_at = ? "
            "WHERE id = ? AND status = 'running' AND lease_until = ?",
            (
                outcome.next_status.value,
                outcome.next_attempt_at,
                attempt.status_code,
                error,
                now,
                delivery_id,
                lease_until,
            ),
            guard=True,
        ),
        Statement(
            f"INSERT INTO delivery_attempts ({fanout_rows.ATTEMPT_COLUMNS}) "  # noqa: S608
            "VALUES (?, (SELECT COUNT(*) + 1 FROM delivery_attempts WHERE delivery_id = ?), "
            "?, ?, ?, ?, ?)",
            (
                delivery_id,
                delivery_id,
                attempt.started_at,
                attempt.duration_ms,
                attempt.status_code,
                fanout_rows.excerpt(attempt.response_excerpt),
                error,
            ),
        ),
    ]
    if outcome.next_status == DeliveryStatus.DELIVERED:
        statements.append(
            Statement(
                "UPDATE subscriptions SET failing_since = NULL "  # noqa: S608
                f"WHERE {_OF_DELIVERY} AND failing_since IS NOT NULL",
                (delivery_id,),
            )
        )
    else:
        statements.append(
            Statement(
                "UPDATE subscriptions SET failing_since = COALESCE(failing_since, ?) "  # noqa: S608
                f"WHERE {_OF_DELIVERY}",
                (attempt.started_at, delivery_id),
            )
        )
    if outcome.disable is not None:
        statements.append(
            Statement(
                "UPDATE subscriptions SET status = ?, disabled_reason = ?, "  # noqa: S608
                f"updated_at = ? WHERE {_OF_DELIVERY} AND status = 'active'",
                (SubscriptionStatus.DISABLED.value, outcome.disable, now, delivery_id),
            )
        )
    return statements


def revive_statements(delivery_id: str, *, now: datetime) -> list[Statement]:
    """Dead -> pending, due now, attempts reset; guarded by the delivery still being dead."""
    return [
        Statement(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
            "lease_until = NULL, updated_at = ? WHERE id = ? AND status = 'dead'",
            (now, now, delivery_id),
            guard=True,
        )
    ]


class DeliveryRows(SqlCalls):
    """Subscriptions, finishing and reviving deliveries, listing deliveries and attempts."""

    # -- subscriptions -------------------------------------------------------------------------
    async def add_subscription(self, subscription: Subscription) -> None:
        """Insert; ConflictError on a taken id."""
        try:
            await self._write(
                f"INSERT INTO subscriptions ({fanout_rows.SUBSCRIPTION_COLUMNS}) "  # noqa: S608
                f"VALUES ({marks(len(_COLUMNS))})",
                fanout_rows.subscription_params(subscription),
            )
        except ConflictError:
            raise ConflictError(f"a subscription {subscription.id} already exists") from None

    async def fetch_subscription(self, subscription_id: str) -> Subscription | None:
        """By id."""
        found = await self._rows(
            f"SELECT {fanout_rows.SUBSCRIPTION_COLUMNS} FROM subscriptions "  # noqa: S608
            "WHERE id = ?",
            (subscription_id,),
        )
        return fanout_rows.subscription_from_row(found[0]) if found else None

    async def list_subscriptions(self, *, include_removed: bool = False) -> list[Subscription]:
        """Oldest first."""
        where = "" if include_removed else " WHERE status <> 'removed'"
        found = await self._rows(
            f"SELECT {fanout_rows.SUBSCRIPTION_COLUMNS} FROM subscriptions{where} "  # noqa: S608
            "ORDER BY seq"
        )
        return [fanout_rows.subscription_from_row(row) for row in found]

    async def update_subscription(self, subscription: Subscription) -> None:
        """Replace by id."""
        assignments = ", ".join(f"{column} = ?" for column in _COLUMNS[1:])
        count = await self._write(
            f"UPDATE subscriptions SET {assignments} WHERE id = ?",  # noqa: S608
            (*fanout_rows.subscription_params(subscription)[1:], subscription.id),
        )
        if count == 0:
            raise NotFoundError(f"no subscription {subscription.id}")

    async def release_held_deliveries(self, subscription_id: str, *, now: datetime) -> None:
        """Make the subscription's pending deliveries due at `now`, those backing off too."""
        await self._run(
            [
                Statement(
                    "UPDATE deliveries SET next_attempt_at = ?, updated_at = ? "
                    "WHERE subscription_id = ? AND status = 'pending' AND next_attempt_at > ?",
                    (now, now, subscription_id, now),
                )
            ],
            wake="deliveries",
        )

    # -- deliveries ----------------------------------------------------------------------------
    async def finish_delivery(
        self, delivery_id: str, *, now: datetime, lease_until: datetime, outcome: AttemptOutcome
    ) -> bool:
        """Attempt row, delivery state and subscription health in one write."""
        return await self._run(
            finish_statements(delivery_id, now=now, lease_until=lease_until, outcome=outcome)
        )

    async def revive_delivery(self, delivery_id: str, *, now: datetime) -> bool:
        """Dead -> pending, due now, attempts reset (and dispatchers told)."""
        return await self._run(revive_statements(delivery_id, now=now), wake="deliveries")

    async def fetch_delivery(self, delivery_id: str) -> Delivery | None:
        """By id."""
        found = await self._rows(
            f"SELECT {fanout_rows.DELIVERY_COLUMNS} FROM deliveries WHERE id = ?",  # noqa: S608
            (delivery_id,),
        )
        return fanout_rows.delivery_from_row(found[0]) if found else None

    async def list_deliveries(
        self, flt: DeliveryFilter, *, limit: int, cursor: str | None
    ) -> Page[Delivery]:
        """Newest first, cursor on `seq`."""
        where, params = fanout_rows.delivery_conditions(flt, decode_cursor(cursor), _mark)
        found = await self._rows(
            f"SELECT {fanout_rows.DELIVERY_COLUMNS} FROM deliveries{where} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, fanout_rows.delivery_from_row)

    async def list_attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        """Oldest first."""
        found = await self._rows(
            f"SELECT {fanout_rows.ATTEMPT_COLUMNS} FROM delivery_attempts "  # noqa: S608
            "WHERE delivery_id = ? ORDER BY seq",
            (delivery_id,),
        )
        return [fanout_rows.attempt_from_row(row) for row in found]

    async def count_deliveries_by_status(self) -> dict[str, int]:
        """One GROUP BY over the deliveries table."""
        found = await self._rows("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
        return {row["status"]: int(row["n"]) for row in found}
