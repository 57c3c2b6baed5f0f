"""Dialect-neutral SQL and pure decisions for a bulk replay of deliveries over a time window."""

from __future__ import annotations

from collections.abc import Mapping

from receiver.errors import BadRequestError, ConflictError
from receiver.models import DeliveryStatus, ReplayCounts, ReplayFilter
from receiver.store.fanout_rows import REQUEUED_STATUSES, requeue_counts

OWED_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RUNNING)
"""Deliveries a replay never touches (they are owed or in flight already), only counts."""

SUBSCRIPTION_STATUS_SQL = "SELECT status FROM subscriptions WHERE id = {subscription}"

_WINDOW_SQL = (
    "FROM outbound_messages m CROSS JOIN deliveries d "
    "JOIN subscriptions s ON s.id = d.subscription_id "
    "WHERE d.message_id = m.id AND m.created_at >= {since} AND m.created_at < {until} "
    "AND s.status <> 'removed'{only}"
)
"""The deliveries of messages published in the window, to subscriptions not removed: read
off the `outbound_messages_created_at` index (0007), then the deliveries' (message_id,
subscription_id) unique index. CROSS JOIN makes SQLite keep that order (it would otherwise
walk every delivery of a status or a subscription); PostgreSQL plans it as an inner join."""

ONLY_SUBSCRIPTION_SQL = " AND d.subscription_id = {subscription}"

WINDOW_COUNTS_SQL = "SELECT d.status, COUNT(*) AS n " + _WINDOW_SQL + " GROUP BY d.status"
"""How many deliveries of the window are in each status."""


def window_ids_sql(flt: ReplayFilter, *, status_column: str, **marks: str) -> str:
    """The ids of the window's deliveries in `flt.statuses` (checked by `check_replay`, so
    the literals are enum values); `marks` render since, until and only. `status_column` is
    `+d.status` on SQLite: the unary plus keeps the (status, next_attempt_at) index out of
    the plan, which SQLite would otherwise walk for every message of the window."""
    statuses = ", ".join(f"'{status.value}'" for status in flt.statuses)
    return f"SELECT d.id {_WINDOW_SQL.format(**marks)} AND {status_column} IN ({statuses})"


def check_replay(flt: ReplayFilter) -> None:
    """BadRequestError for an empty window or statuses other than delivered and dead."""
    if flt.until <= flt.since:
        raise BadRequestError("until must be later than since")
    if not flt.statuses or not set(flt.statuses) <= set(REQUEUED_STATUSES):
        raise BadRequestError("a replay resends delivered and/or dead deliveries only")


def plan_replay(by_status: Mapping[str, int], flt: ReplayFilter, *, limit: int) -> ReplayCounts:
    """The dry-run counts from the window's deliveries per status (`WINDOW_COUNTS_SQL`)."""
    matched = sum(by_status.get(status.value, 0) for status in set(flt.statuses))
    owed = sum(by_status.get(status.value, 0) for status in OWED_STATUSES)
    return ReplayCounts(
        matched=matched, requeued=0, already_pending=owed, over_limit=matched > limit
    )


def check_replay_limit(plan: ReplayCounts, *, limit: int) -> None:
    """ConflictError, naming the count, when a replay would requeue more than `limit`."""
    if plan.over_limit:
        raise ConflictError(
            f"{plan.matched} deliveries match, more than the {limit} one replay may requeue "
            "(RECEIVER_REPLAY_MAX_DELIVERIES); narrow the window (since, until) or choose a "
            "subscription"
        )


def replay_done(plan: ReplayCounts, chosen: int, requeued: int) -> ReplayCounts:
    """The counts after requeueing `chosen` ids of the plan: ones that left a requeued status
    meanwhile (another operator's retry) count as already pending, as in `requeue_counts`."""
    counts = requeue_counts(chosen, requeued, plan.already_pending)
    return ReplayCounts(
        matched=chosen, requeued=counts.requeued, already_pending=counts.already_pending
    )
