"""Failed-authentication throttling: limit within a window, Retry-After, reset, bounded memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from receiver.auth.throttle import FailureThrottle
from receiver.errors import ConfigError, TooManyRequestsError

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def seconds(n: float) -> datetime:
    return NOW + timedelta(seconds=n)


def fail(throttle: FailureThrottle, key: str, times: int, at: datetime = NOW) -> None:
    for _ in range(times):
        throttle.record_failure(key, at)


def test_allows_until_limit_then_refuses() -> None:
    throttle = FailureThrottle(limit=3, window_seconds=60)
    fail(throttle, "cli_a", 2)
    throttle.check("cli_a", NOW)
    throttle.record_failure("cli_a", NOW)
    with pytest.raises(TooManyRequestsError) as info:
        throttle.check("cli_a", NOW)
    assert info.value.status_code == 429
    assert info.value.retry_after == 60
    assert info.value.headers == {"Retry-After": "60"}


def test_retry_after_counts_down_to_the_oldest_failure_leaving() -> None:
    throttle = FailureThrottle(limit=2, window_seconds=60)
    throttle.record_failure("k", NOW)
    throttle.record_failure("k", seconds(20))
    with pytest.raises(TooManyRequestsError) as info:
        throttle.check("k", seconds(45.5))
    assert info.value.retry_after == 15  # ceil(14.5)
    throttle.check("k", seconds(60))  # the first failure has left the window


def test_retry_after_is_at_least_one() -> None:
    throttle = FailureThrottle(limit=1, window_seconds=60)
    throttle.record_failure("k", NOW)
    with pytest.raises(TooManyRequestsError) as info:
        throttle.check("k", seconds(59.999))
    assert info.value.retry_after == 1


def test_keys_are_independent() -> None:
    throttle = FailureThrottle(limit=1, window_seconds=60)
    throttle.record_failure("known", NOW)
    throttle.check("other", NOW)
    with pytest.raises(TooManyRequestsError):
        throttle.check("known", NOW)


def test_reset_forgets_failures() -> None:
    throttle = FailureThrottle(limit=2, window_seconds=60)
    fail(throttle, "k", 2)
    throttle.reset("k")
    throttle.check("k", NOW)
    throttle.reset("never-seen")
    assert len(throttle) == 0


def test_old_failures_expire_and_are_dropped() -> None:
    throttle = FailureThrottle(limit=2, window_seconds=60)
    fail(throttle, "k", 2)
    throttle.check("k", seconds(61))
    assert len(throttle) == 0


def test_sliding_window_keeps_recent_failures() -> None:
    throttle = FailureThrottle(limit=3, window_seconds=60)
    throttle.record_failure("k", NOW)
    throttle.record_failure("k", seconds(30))
    throttle.record_failure("k", seconds(61))  # the first has left; two remain
    throttle.check("k", seconds(61))
    throttle.record_failure("k", seconds(62))
    with pytest.raises(TooManyRequestsError) as info:
        throttle.check("k", seconds(62))
    assert info.value.retry_after == 28


def test_bounded_by_max_entries_evicting_oldest() -> None:
    throttle = FailureThrottle(limit=1, window_seconds=60, max_entries=3)
    for name in ("a", "b", "c"):
        throttle.record_failure(name, NOW)
    throttle.record_failure("a", seconds(1))  # "a" is now the most recent
    throttle.record_failure("d", seconds(2))
    assert len(throttle) == 3
    throttle.check("b", seconds(2))  # evicted
    for name in ("a", "c", "d"):
        with pytest.raises(TooManyRequestsError):
            throttle.check(name, seconds(2))


def test_many_distinct_keys_stay_bounded() -> None:
    throttle = FailureThrottle(limit=5, window_seconds=60, max_entries=100)
    for i in range(1000):
        throttle.record_failure(f"guess-{i}", NOW)
    assert len(throttle) == 100


def test_limit_zero_disables() -> None:
    throttle = FailureThrottle(limit=0, window_seconds=60)
    fail(throttle, "k", 50)
    throttle.check("k", NOW)
    assert len(throttle) == 0


@pytest.mark.parametrize(("limit", "window", "entries"), [(-1, 60, 10), (3, 0, 10), (3, 60, 0)])
def test_refuses_bad_configuration(limit: int, window: int, entries: int) -> None:
    with pytest.raises(ConfigError):
        FailureThrottle(limit, window, entries)
