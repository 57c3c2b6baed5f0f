"""Pure retry decisions: failure classification, Retry-After, backoff, delivery schedules."""

from __future__ import annotations

import enum
import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
# 2**60 seconds is far beyond any cap; bounding the exponent keeps float conversion safe.
_MAX_EXPONENT = 60


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long and how often to retry a failing upstream call."""

    base_seconds: float = 5.0
    max_delay_seconds: float = 3600.0
    give_up_after_seconds: float = 24 * 3600
    not_found_attempts: int = 5
    jitter: float = 0.2


class FailureKind(enum.StrEnum):
    """Whether a failure is worth retrying, and how."""

    TRANSIENT = "transient"
    NOT_FOUND = "not_found"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Retry at `next_attempt_at`, or stop for `reason`."""

    retry: bool
    next_attempt_at: datetime | None
    reason: str


def classify_status(status: int) -> FailureKind | None:
    """Classify an HTTP status: None for 2xx, else the kind of failure it is.

    408, 429 and 5xx are transient; 404 may be a report not yet available; any other status
    (400, 401, 403, an unexpected redirect...) needs a person and is permanent.
    """
    if 200 <= status < 300:
        return None
    if status in (408, 429) or 500 <= status < 600:
        return FailureKind.TRANSIENT
    if status == 404:
        return FailureKind.NOT_FOUND
    return FailureKind.PERMANENT


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date).

    A past date or negative delay gives 0, anything unparseable gives None, and the result
    is capped at 24 hours.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    seconds = _parse_delta(text)
    if seconds is None:
        seconds = _parse_http_date(text, now)
    if seconds is None:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _parse_delta(text: str) -> float | None:
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None


def _parse_http_date(text: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return (_aware(when) - _aware(now)).total_seconds()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def decide_retry(
    *,
    kind: FailureKind,
    attempts: int,
    first_attempt_at: datetime,
    now: datetime,
    policy: RetryPolicy,
    retry_after: float | None = None,
    random: Callable[[], float] = _random.random,
) -> RetryDecision:
    """Decide from persisted data whether, and when, to try a failed upstream call again.

    `attempts` counts the attempts made so far, including the one that just failed. Permanent
    failures stop at once; not-found stops after `policy.not_found_attempts`; both retryable
    kinds back off exponentially with jitter and stop once the next attempt would fall past
    `first_attempt_at + policy.give_up_after_seconds`.
    """
    if kind is FailureKind.PERMANENT:
        return RetryDecision(retry=False, next_attempt_at=None, reason="permanent status")
    if kind is FailureKind.NOT_FOUND and attempts >= policy.not_found_attempts:
        return RetryDecision(
            retry=False, next_attempt_at=None, reason=f"not found after {attempts} attempts"
        )
    delay = backoff_seconds(attempts, policy, retry_after=retry_after, random=random)
    next_attempt_at = now + timedelta(seconds=delay)
    deadline = first_attempt_at + timedelta(seconds=policy.give_up_after_seconds)
    if next_attempt_at > deadline:
        reason = f"gave up after {_format_duration(policy.give_up_after_seconds)}"
        return RetryDecision(retry=False, next_attempt_at=None, reason=reason)
    return RetryDecision(retry=True, next_attempt_at=next_attempt_at, reason="retry")


def backoff_seconds(
    attempts: int,
    policy: RetryPolicy,
    *,
    retry_after: float | None = None,
    random: Callable[[], float] = _random.random,
) -> float:
    """The delay before the next attempt: `base * 2**(attempts-1)`, capped, then jittered.

    A `retry_after` larger than the jittered delay wins, capped at `policy.max_delay_seconds`.
    """
    exponent = min(max(attempts, 1) - 1, _MAX_EXPONENT)
    capped = min(policy.base_seconds * 2.0**exponent, policy.max_delay_seconds)
    delay = max(capped * (1 + policy.jitter * (2 * random() - 1)), 0.0)
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, policy.max_delay_seconds)
    return delay


def _format_duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds)}s"


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


def parse_poll_schedule(text: str) -> tuple[tuple[timedelta, ...], timedelta]:
    """Comma-separated seconds between poll passes, the last repeating: `5,15,30,60,300` polls
    5 s, 15 s, 30 s and 60 s apart, then every 300 s. ValueError names what is wrong."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError("give at least one delay in seconds, e.g. 5,15,30,60,300")
    delays: list[timedelta] = []
    for part in parts:
        try:
            seconds = float(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a number of seconds") from None
        if not 0 < seconds <= 86_400:
            raise ValueError(f"each delay must be more than 0 and at most 86400 s, not {part}")
        delays.append(timedelta(seconds=seconds))
    return tuple(delays[:-1]), delays[-1]


# The wait before retrying a real-time eligibility check Stedi throttled (429 CUSTOMER_LIMIT).
THROTTLE_BASE_SECONDS = 0.25
THROTTLE_CAP_SECONDS = 8.0


def throttle_delay(
    attempt: int,
    *,
    elapsed: float,
    deadline: float,
    jitter: float,
    base: float = THROTTLE_BASE_SECONDS,
    cap: float = THROTTLE_CAP_SECONDS,
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None when the caller's deadline leaves
    no room for another try.

    Exponential (`base` doubling per attempt, at most `cap`) with "equal jitter": half the
    step fixed, half scaled by `jitter` in [0, 1), so throttled callers spread out. A wait
    that would end within `base` of the deadline is not worth starting: None.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    step = min(cap, base * (1 << min(attempt - 1, 30)))
    delay = step / 2 + step / 2 * min(max(jitter, 0.0), 1.0)
    if elapsed + delay + base >= deadline:
        return None
    return delay
