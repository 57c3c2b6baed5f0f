"""The pure wait before retrying a real-time check Stedi throttled (429 CUSTOMER_LIMIT)."""

from __future__ import annotations

BASE_SECONDS = 0.25
CAP_SECONDS = 8.0


def throttle_delay(
    attempt: int,
    *,
    elapsed: float,
    deadline: float,
    jitter: float,
    base: float = BASE_SECONDS,
    cap: float = CAP_SECONDS,
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
