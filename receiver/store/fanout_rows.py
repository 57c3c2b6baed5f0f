"""Row mapping and dialect-neutral SQL for subscriptions, deliveries and attempts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import orjson

from receiver.delivery.rules import matches_subscription
from receiver.errors import ConflictError, NotFoundError
from receiver.ids import new_id
from receiver.models import (
    ClaimedDelivery,
    Delivery,
    DeliveryAttempt,
    DeliveryFilter,
    DeliveryStatus,
    OutboundMessage,
    RequeueCounts,
    Subscription,
    SubscriptionStatus,
)
from receiver.store.rows import Row, json_value, where_clause

SUBSCRIPTION_COLUMNS = (
    "id, url, type_patterns, account, description, secret, previous_secret, "
    "previous_expires_at, status, disabled_reason, failing_since, created_at, updated_at"
)
DELIVERY_COLUMNS = (
    "seq, id, message_id, subscription_id, type, account, status, attempts, next_attempt_at, "
    "lease_until, last_status, last_error, created_at, updated_at"
)
ATTEMPT_COLUMNS = (
    "delivery_id, attempt, started_at, duration_ms, status_code, response_excerpt, error"
)
MAX_EXCERPT_CHARS = 1024


def subscription_from_row(row: Row) -> Subscription:
    """A Subscription from a `SUBSCRIPTION_COLUMNS` row."""
    patterns = row["type_patterns"]
    if isinstance(patterns, str | bytes):
        patterns = orjson.loads(patterns)
    return Subscription(
        id=row["id"],
        url=row["url"],
        type_patterns=tuple(patterns),
        account=row["account"],
        description=row["description"],
        secret=row["secret"],
        previous_secret=row["previous_secret"],
        previous_expires_at=row["previous_expires_at"],
        status=SubscriptionStatus(row["status"]),
        disabled_reason=row["disabled_reason"],
        failing_since=row["failing_since"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def subscription_params(sub: Subscription) -> tuple[object, ...]:
    """A subscription's values in `SUBSCRIPTION_COLUMNS` order (datetimes as datetimes)."""
    return (
        sub.id,
        sub.url,
        orjson.dumps(list(sub.type_patterns)).decode(),
        sub.account,
        sub.description,
        sub.secret,
        sub.previous_secret,
        sub.previous_expires_at,
        sub.status.value,
        sub.disabled_reason,
        sub.failing_since,
        sub.created_at,
        sub.updated_at,
    )


def delivery_from_row(row: Row) -> Delivery:
    """A Delivery from a `DELIVERY_COLUMNS` row."""
    return Delivery(
        id=row["id"],
        message_id=row["message_id"],
        subscription_id=row["subscription_id"],
        type=row["type"],
        account=row["account"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        lease_until=row["lease_until"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def claimed_from_row(row: Row, subscription: Subscription) -> ClaimedDelivery:
    """A ClaimedDelivery from a `CLAIMED_SQL_COLUMNS` row and its subscription."""
    delivery = delivery_from_row(row)
    message = OutboundMessage(
        id=delivery.message_id,
        type=delivery.type,
        account=delivery.account,
        data=json_value(row["m_data"]),
        created_at=row["m_created_at"],
    )
    return ClaimedDelivery(delivery=delivery, message=message, subscription=subscription)


def attempt_from_row(row: Row) -> DeliveryAttempt:
    """A DeliveryAttempt from an `ATTEMPT_COLUMNS` row."""
    return DeliveryAttempt(
        delivery_id=row["delivery_id"],
        attempt=row["attempt"],
        started_at=row["started_at"],
        duration_ms=row["duration_ms"],
        status_code=row["status_code"],
        response_excerpt=row["response_excerpt"],
        error=row["error"],
    )


def delivery_conditions(
    flt: DeliveryFilter, before_seq: int | None, placeholder: Callable[[int], str]
) -> tuple[str, list[object]]:
    """WHERE clause and parameters for a delivery listing."""
    return where_clause(
        [
            ("subscription_id = {}", flt.subscription_id),
            ("status = {}", flt.status),
            ("type = {}", flt.type),
            ("message_id = {}", flt.message_id),
            ("seq < {}", before_seq),
        ],
        placeholder,
    )


def plan_deliveries(
    messages: Sequence[Row], subscriptions: Sequence[Subscription], now: datetime
) -> list[tuple[object, ...]]:
    """Delivery rows owed for `messages` (rows with id, type, account): one per message and
    matching subscription that is not removed, due at `now` (a disabled subscription's wait
    until it is enabled again, so nothing published meanwhile is lost), as
    (id, message_id, subscription_id, type, account, status, next_attempt_at, created_at,
    updated_at)."""
    planned: list[tuple[object, ...]] = []
    for message in messages:
        for sub in subscriptions:
            if sub.status == SubscriptionStatus.REMOVED:
                continue
            if matches_subscription(
                type_patterns=sub.type_patterns,
                account_filter=sub.account,
                event_type=message["type"],
                account=message["account"],
            ):
                planned.append(
                    (
                        new_id("dlv"),
                        message["id"],
                        sub.id,
                        message["type"],
                        message["account"],
                        DeliveryStatus.PENDING.value,
                        now,
                        now,
                        now,
                    )
                )
    return planned


INSERT_DELIVERY = (
    "INSERT INTO deliveries (id, message_id, subscription_id, type, account, status, "
    "next_attempt_at, created_at, updated_at) VALUES ({}) "
    "ON CONFLICT (message_id, subscription_id) DO NOTHING"
)


BUSY_SQL = (
    "SELECT subscription_id, COUNT(*) AS n FROM deliveries "
    "WHERE status = 'running' AND lease_until >= {now} GROUP BY subscription_id"
)
"""Deliveries running under a live lease, per subscription (few rows: the in-flight ones)."""

PENDING_DUE_SQL = (
    "SELECT id, subscription_id, next_attempt_at, seq FROM deliveries "
    "WHERE status = 'pending' AND next_attempt_at <= {now}{skip} "
    "ORDER BY next_attempt_at, seq LIMIT {limit}"
)
"""The oldest due pending deliveries, read off the (status, next_attempt_at) index in order;
`{skip}` leaves out subscriptions that are inactive or already at their limit."""

EXPIRED_SQL = (
    "SELECT id, subscription_id, next_attempt_at, seq FROM deliveries "
    "WHERE status = 'running' AND lease_until < {now}"
)
"""Running deliveries whose lease ran out (their dispatcher died): due again."""


def pick_deliveries(
    candidates: Sequence[Row],
    busy: dict[str, int],
    active: set[str],
    *,
    per_subscription: int,
    limit: int,
) -> list[str]:
    """The delivery ids to lease: oldest due first (`next_attempt_at`, then `seq`), only for
    `active` subscriptions, never taking a subscription past `per_subscription` running
    (counting `busy`, the ones already running), at most `limit` in all."""
    room = {sub: per_subscription - busy.get(sub, 0) for sub in active}
    chosen: list[str] = []
    seen: set[str] = set()
    for row in sorted(candidates, key=lambda r: (r["next_attempt_at"], r["seq"])):
        sub = row["subscription_id"]
        if row["id"] in seen or room.get(sub, 0) <= 0:
            continue
        seen.add(row["id"])
        room[sub] -= 1
        chosen.append(row["id"])
        if len(chosen) >= limit:
            break
    return chosen


CLAIMED_SQL_COLUMNS = (
    "d.seq, d.id, d.message_id, d.subscription_id, d.type, d.account, d.status, d.attempts, "
    "d.next_attempt_at, d.lease_until, d.last_status, d.last_error, d.created_at, "
    "d.updated_at, m.data AS m_data, m.created_at AS m_created_at"
)


def excerpt(text: str | None) -> str | None:
    """The first `MAX_EXCERPT_CHARS` characters of a response body, or None."""
    return None if text is None else text[:MAX_EXCERPT_CHARS]


REQUEUED_STATUSES = (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD)
"""The statuses an event's redelivery puts back to pending: finished deliveries. Pending and
running ones are owed or in flight already, so they are left alone."""

REDELIVERY_CHECK_SQL = (
    "SELECT (SELECT COUNT(*) FROM outbound_messages WHERE event_id = {event}) AS messages, "
    "(SELECT status FROM subscriptions WHERE id = {subscription}) AS subscription_status "
    "FROM inbound_events WHERE id = {event}"
)
"""One row if the event exists: how many messages it published, and the status of the
subscription asked for (NULL if there is none, or none was asked for)."""

EVENT_DELIVERIES_SQL = (
    "SELECT d.id, d.status FROM deliveries d "
    "JOIN outbound_messages m ON m.id = d.message_id "
    "JOIN subscriptions s ON s.id = d.subscription_id "
    "WHERE m.event_id = {event} AND s.status <> 'removed'{only}"
)
"""The deliveries of an event's messages to subscriptions that are not removed; `{only}` is
empty or `ONLY_SUBSCRIPTION_SQL`."""

ONLY_SUBSCRIPTION_SQL = " AND d.subscription_id = {subscription}"

REQUEUE_SQL = (
    "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = {now}, "  # noqa: S608
    "lease_until = NULL, updated_at = {now} WHERE {ids} AND status IN ("
    + ", ".join(f"'{status.value}'" for status in REQUEUED_STATUSES)
    + ")"
)
"""Back to pending, due `{now}`, with a fresh attempt budget (attempt rows are kept and the
next one is numbered after them); `{ids}` selects the rows `plan_requeue` chose."""


def check_resend_subscription(status: str | None, subscription_id: str) -> None:
    """Refuse a resend to one subscription from its status: NotFoundError if there is none
    (`status` None), ConflictError if it is removed."""
    if status is None:
        raise NotFoundError(f"no subscription {subscription_id}")
    if status == SubscriptionStatus.REMOVED:
        raise ConflictError(f"subscription {subscription_id} is removed")


def check_redelivery(found: Row | None, *, event_id: str, subscription_id: str | None) -> None:
    """Refuse a redelivery from the `REDELIVERY_CHECK_SQL` row: NotFoundError for an unknown
    event or subscription, ConflictError for a removed subscription or an event that has
    published nothing yet."""
    if found is None:
        raise NotFoundError(f"no event {event_id}")
    if subscription_id is not None:
        check_resend_subscription(found["subscription_status"], subscription_id)
    if not found["messages"]:
        raise ConflictError(
            f"event {event_id} has published no messages (its job has not finished, or it "
            "had nothing to publish)"
        )


def plan_requeue(found: Sequence[Row]) -> tuple[list[str], int]:
    """Of an event's deliveries (rows with id, status): the ids to put back to pending
    (`REQUEUED_STATUSES`), and how many are pending or running already."""
    chosen = [row["id"] for row in found if row["status"] in REQUEUED_STATUSES]
    return chosen, len(found) - len(chosen)


def requeue_counts(chosen: int, requeued: int, already_pending: int) -> RequeueCounts:
    """The counts, where `chosen - requeued` rows left a requeued status in the meantime
    (another operator's retry made them pending) and so count as already pending."""
    return RequeueCounts(requeued=requeued, already_pending=already_pending + chosen - requeued)
