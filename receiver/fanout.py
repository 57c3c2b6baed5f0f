"""Pure rules for downstream fan-out: subscription matching, retry schedules and outcomes."""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

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


def parse_schedule(raw: str) -> tuple[float, ...]:
    """Parse comma-separated seconds between attempts, e.g. "0,5,300"; ValueError if bad."""
    parts = [part.strip() for part in raw.split(",")]
    if not raw.strip():
        raise ValueError("retry schedule is empty: give at least one number of seconds")
    schedule: list[float] = []
    for index, part in enumerate(parts):
        if not part:
            raise ValueError(f"retry schedule entry {index + 1} is empty in {raw!r}")
        try:
            value = float(part)
        except ValueError:
            raise ValueError(
                f"retry schedule entry {index + 1} ({part!r}) is not a number of seconds"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"retry schedule entry {index + 1} ({part!r}) must be finite and >= 0")
        schedule.append(value)
    return tuple(schedule)


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
