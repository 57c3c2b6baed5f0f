"""Failed-authentication throttling: the limit within a window, Retry-After, bounded memory,
and what counts as one source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from receiver.auth.throttle import Failure, FailureThrottle, source_key
from receiver.errors import ConfigError

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
OPEN = Failure(locks_out=False, retry_after=None)
LOCKS = Failure(locks_out=True, retry_after=None)


def seconds(n: float) -> datetime:
    return NOW + timedelta(seconds=n)


def fail(throttle: FailureThrottle, key: str, times: int, at: datetime = NOW) -> list[Failure]:
    return [throttle.record_failure(key, at) for _ in range(times)]


def test_the_limit_th_failure_locks_out_and_later_ones_are_refused() -> None:
    throttle = FailureThrottle(limit=3, window_seconds=60)
    assert fail(throttle, "a", 3) == [OPEN, OPEN, LOCKS]
    assert throttle.record_failure("a", NOW) == Failure(locks_out=False, retry_after=60)


def test_retry_after_counts_down_to_the_oldest_failure_leaving() -> None:
    throttle = FailureThrottle(limit=2, window_seconds=60)
    throttle.record_failure("k", NOW)
    throttle.record_failure("k", seconds(20))
    # Refused; the two failures left in the window are at 20 and 45.5.
    assert throttle.record_failure("k", seconds(45.5)).retry_after == 35  # ceil(34.5)
    assert throttle.record_failure("k", seconds(81)).retry_after is None  # one has left


def test_retry_after_is_at_least_one() -> None:
    throttle = FailureThrottle(limit=3, window_seconds=60)
    for at in (0, 0.5, 59.9):
        throttle.record_failure("k", seconds(at))
    assert throttle.record_failure("k", seconds(59.95)).retry_after == 1  # ceil(0.55)


def test_refused_failures_keep_a_persistent_source_locked_out() -> None:
    throttle = FailureThrottle(limit=2, window_seconds=60)
    fail(throttle, "k", 2)
    for at in (20, 40, 60, 80):  # two failures in every 60 s
        assert throttle.record_failure("k", seconds(at)).retry_after is not None


def test_keys_are_independent() -> None:
    throttle = FailureThrottle(limit=1, window_seconds=60)
    throttle.record_failure("known", NOW)
    assert throttle.record_failure("other", NOW) == LOCKS
    assert throttle.record_failure("known", NOW).retry_after == 60


def test_old_failures_expire_and_are_dropped() -> None:
    throttle = FailureThrottle(limit=2, window_seconds=60)
    fail(throttle, "k", 2)
    assert throttle.record_failure("k", seconds(61)) == OPEN
    assert len(throttle) == 1


def test_bounded_by_max_entries_evicting_oldest() -> None:
    throttle = FailureThrottle(limit=1, window_seconds=60, max_entries=3)
    for name in ("a", "b", "c"):
        throttle.record_failure(name, NOW)
    throttle.record_failure("a", seconds(1))  # "a" is now the most recent
    throttle.record_failure("d", seconds(2))
    assert len(throttle) == 3
    assert throttle.record_failure("b", seconds(2)) == LOCKS  # evicted: counted afresh


def test_many_distinct_keys_stay_bounded() -> None:
    throttle = FailureThrottle(limit=5, window_seconds=60, max_entries=100)
    for i in range(1000):
        throttle.record_failure(f"guess-{i}", NOW)
    assert len(throttle) == 100


def test_limit_zero_disables() -> None:
    throttle = FailureThrottle(limit=0, window_seconds=60)
    assert set(fail(throttle, "k", 50)) == {OPEN}
    assert len(throttle) == 0


@pytest.mark.parametrize(("limit", "window", "entries"), [(-1, 60, 10), (3, 0, 10), (3, 60, 0)])
def test_refuses_bad_configuration(limit: int, window: int, entries: int) -> None:
    with pytest.raises(ConfigError):
        FailureThrottle(limit, window, entries)


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("", "unknown"),
        (None, "unknown"),
        ("proxy-named-host", "proxy-named-host"),
    ],
)
def test_source_key_groups_an_ipv6_slash_64(host: str | None, key: str) -> None:
    assert source_key(host) == key
