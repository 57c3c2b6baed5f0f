"""Pure rules for downstream fan-out: matching, message bodies, signatures, retry decisions."""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from standardwebhooks import Webhook

from receiver.models import DeliveryStatus, OutboundMessage

DEFAULT_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
"""Seconds to wait before each delivery attempt; its length is the attempt budget."""


def matches_type(pattern: str, event_type: str) -> bool:
    """Whether `event_type` matches `pattern`: an exact name, `prefix.*`, or `*` for all.

    `claim.*` matches `claim.remittance.received` but neither `claims.x` nor `claim`.
    """
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        prefix = pattern[:-1]  # keeps the trailing dot
        return len(event_type) > len(prefix) and event_type.startswith(prefix)
    return pattern == event_type


def matches_subscription(
    *,
    type_patterns: Sequence[str],
    account_filter: str | None,
    event_type: str,
    account: str | None,
) -> bool:
    """Whether an event of `event_type` for `account` is wanted by a subscription.

    The event must match at least one type pattern, and, when the subscription has an
    account filter, come from exactly that account.
    """
    if account_filter is not None and account != account_filter:
        return False
    return any(matches_type(pattern, event_type) for pattern in type_patterns)


def next_delivery_at(
    *,
    attempts: int,
    now: datetime,
    schedule: Sequence[float],
    retry_after: float | None = None,
    max_retry_after: float = 3600,
    jitter: float = 0.1,
    random: Callable[[], float] = _random.random,
) -> datetime | None:
    """When to make the next attempt, given `attempts` made so far; None once the budget is spent.

    The delay is `schedule[attempts]` scaled by a factor in [1 - jitter, 1 + jitter) (a zero
    delay stays zero). A Retry-After longer than that wins, capped at `max_retry_after`.
    """
    if attempts < 0:
        raise ValueError("attempts must be >= 0")
    if attempts >= len(schedule):
        return None
    delay = float(schedule[attempts])
    if delay > 0 and jitter > 0:
        delay *= 1 + jitter * (2 * random() - 1)
    if retry_after is not None and math.isfinite(retry_after):
        wanted = min(retry_after, max_retry_after)
        delay = max(delay, wanted)
    return now + timedelta(seconds=max(delay, 0.0))


def is_success(status: int) -> bool:
    """Whether an HTTP status counts as delivered (any 2xx)."""
    return 200 <= status < 300


def disables_subscription(status: int) -> bool:
    """Whether an HTTP status tells us to stop delivering to the subscription (410 Gone)."""
    return status == 410


def message_body(message: OutboundMessage) -> bytes:
    """The JSON body a subscriber receives for a message; the same bytes on every attempt."""
    return orjson.dumps(
        {
            "id": message.id,
            "type": message.type,
            "timestamp": message.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "account": message.account,
            "data": message.data,
        }
    )


def signature_headers(
    *, message_id: str, body: bytes, secrets: Sequence[str], at: datetime
) -> dict[str, str]:
    """Standard Webhooks headers for one attempt, signed with every secret in `secrets`
    (space-separated `v1,` signatures while a rotated secret is in its grace period)."""
    signatures = " ".join(
        Webhook(secret).sign(message_id, at, body.decode("utf-8")) for secret in secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a delivery goes after an attempt, and whether its subscription is disabled."""

    status: DeliveryStatus
    next_attempt_at: datetime | None = None
    disable: str | None = None


def decide_after_attempt(
    *,
    status_code: int | None,
    attempts_before: int,
    now: datetime,
    schedule: Sequence[float],
    retry_after: float | None,
    max_retry_after: float,
    failing_since: datetime | None,
    disable_after_seconds: float,
    random: Callable[[], float] = _random.random,
) -> Decision:
    """Decide a delivery's next state from one attempt's answer (None: no HTTP answer).

    2xx: delivered. 410: dead, and the subscription is disabled. Anything else is retried on
    the schedule until its budget is spent (then dead); if the subscription has seen nothing
    but failures for `disable_after_seconds` (0: never), it is disabled too.
    """
    if status_code is not None and is_success(status_code):
        return Decision(DeliveryStatus.DELIVERED)
    if status_code is not None and disables_subscription(status_code):
        return Decision(DeliveryStatus.DEAD, disable="the endpoint answered 410 Gone")
    disable = None
    since = failing_since or now
    if disable_after_seconds > 0 and (now - since).total_seconds() >= disable_after_seconds:
        hours = disable_after_seconds / 3600
        disable = f"nothing but failures for {hours:g} h"
    retry_at = next_delivery_at(
        attempts=attempts_before + 1,
        now=now,
        schedule=schedule,
        retry_after=retry_after,
        max_retry_after=max_retry_after,
        random=random,
    )
    if retry_at is None:
        return Decision(DeliveryStatus.DEAD, disable=disable)
    return Decision(DeliveryStatus.PENDING, next_attempt_at=retry_at, disable=disable)
