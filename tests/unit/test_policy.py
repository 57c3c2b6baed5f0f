"""Retry policy: status classification, Retry-After parsing and backoff decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from receiver.policy import (
    FailureKind,
    RetryDecision,
    RetryPolicy,
    backoff_seconds,
    classify_status,
    decide_retry,
    parse_retry_after,
)

T0 = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)
POLICY = RetryPolicy()


def middle() -> float:
    """A random() that gives no jitter at all."""
    return 0.5


def low() -> float:
    return 0.0


def high() -> float:
    return 1.0


def decide(kind: FailureKind, attempts: int, **kwargs: object) -> RetryDecision:
    options: dict[str, object] = {
        "first_attempt_at": T0,
        "now": T0,
        "policy": POLICY,
        "random": middle,
    }
    options.update(kwargs)
    return decide_retry(kind=kind, attempts=attempts, **options)  # type: ignore[arg-type]


class TestClassifyStatus:
    @pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
    def test_success_is_not_a_failure(self, status: int) -> None:
        assert classify_status(status) is None

    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
    def test_throttling_timeouts_and_server_errors_are_transient(self, status: int) -> None:
        assert classify_status(status) is FailureKind.TRANSIENT

    def test_404_is_not_found(self) -> None:
        assert classify_status(404) is FailureKind.NOT_FOUND

    @pytest.mark.parametrize("status", [400, 401, 403, 405, 409, 410, 422, 301, 302])
    def test_other_statuses_need_a_person(self, status: int) -> None:
        assert classify_status(status) is FailureKind.PERMANENT


class TestParseRetryAfter:
    def test_missing_or_blank_is_none(self) -> None:
        assert parse_retry_after(None, T0) is None
        assert parse_retry_after("  ", T0) is None

    def test_delta_seconds(self) -> None:
        assert parse_retry_after("120", T0) == 120.0
        assert parse_retry_after(" 7 ", T0) == 7.0

    def test_negative_delta_is_zero(self) -> None:
        assert parse_retry_after("-5", T0) == 0.0

    def test_http_date_in_the_future(self) -> None:
        assert parse_retry_after("Fri, 14 Mar 2025 12:01:30 GMT", T0) == 90.0

    def test_http_date_in_the_past_is_zero(self) -> None:
        assert parse_retry_after("Fri, 14 Mar 2025 11:00:00 GMT", T0) == 0.0

    def test_http_date_without_zone_is_read_as_utc(self) -> None:
        assert parse_retry_after("Fri, 14 Mar 2025 12:00:10 -0000", T0) == 10.0

    @pytest.mark.parametrize("value", ["soon", "nan", "inf", "12abc", "Fri, 99 Foo 2025"])
    def test_garbage_is_none(self, value: str) -> None:
        assert parse_retry_after(value, T0) is None

    def test_capped_at_a_day(self) -> None:
        assert parse_retry_after("999999", T0) == 24 * 3600.0
        assert parse_retry_after("Sat, 14 Mar 2026 12:00:00 GMT", T0) == 24 * 3600.0


class TestBackoffSeconds:
    @pytest.mark.parametrize(
        ("attempts", "expected"), [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (11, 3600.0)]
    )
    def test_doubles_from_the_base_up_to_the_cap(self, attempts: int, expected: float) -> None:
        assert backoff_seconds(attempts, POLICY, random=middle) == expected

    def test_jitter_spreads_by_the_policy_fraction(self) -> None:
        assert backoff_seconds(3, POLICY, random=low) == pytest.approx(16.0)
        assert backoff_seconds(3, POLICY, random=high) == pytest.approx(24.0)

    def test_huge_attempt_counts_stay_capped(self) -> None:
        assert backoff_seconds(10_000, POLICY, random=middle) == 3600.0

    def test_zero_attempts_is_treated_as_the_first(self) -> None:
        assert backoff_seconds(0, POLICY, random=middle) == 5.0

    def test_larger_retry_after_wins(self) -> None:
        assert backoff_seconds(1, POLICY, retry_after=90.0, random=middle) == 90.0

    def test_smaller_retry_after_is_ignored(self) -> None:
        assert backoff_seconds(4, POLICY, retry_after=1.0, random=middle) == 40.0

    def test_retry_after_is_capped_too(self) -> None:
        assert backoff_seconds(1, POLICY, retry_after=86_400.0, random=middle) == 3600.0


class TestDecideRetry:
    def test_permanent_never_retries(self) -> None:
        decision = decide(FailureKind.PERMANENT, 1)
        assert (decision.retry, decision.next_attempt_at) == (False, None)
        assert decision.reason == "permanent status"

    def test_transient_retries_after_the_backoff(self) -> None:
        decision = decide(FailureKind.TRANSIENT, 3, now=T0 + timedelta(minutes=1))
        assert decision.retry
        assert decision.reason == "retry"
        assert decision.next_attempt_at == T0 + timedelta(minutes=1, seconds=20)

    def test_transient_honours_retry_after(self) -> None:
        decision = decide(FailureKind.TRANSIENT, 1, retry_after=120.0)
        assert decision.next_attempt_at == T0 + timedelta(seconds=120)

    def test_jitter_comes_from_the_injected_random(self) -> None:
        decision = decide(FailureKind.TRANSIENT, 1, random=high)
        assert decision.next_attempt_at == T0 + timedelta(seconds=6)

    def test_transient_gives_up_past_the_deadline(self) -> None:
        now = T0 + timedelta(hours=23, minutes=30)
        decision = decide(FailureKind.TRANSIENT, 20, now=now)
        assert (decision.retry, decision.next_attempt_at) == (False, None)
        assert decision.reason == "gave up after 24h"

    def test_transient_retries_right_up_to_the_deadline(self) -> None:
        now = T0 + timedelta(hours=23)
        decision = decide(FailureKind.TRANSIENT, 20, now=now)
        assert decision.next_attempt_at == T0 + timedelta(hours=24)

    def test_give_up_reason_follows_the_policy(self) -> None:
        policy = RetryPolicy(give_up_after_seconds=90)
        decision = decide(FailureKind.TRANSIENT, 5, now=T0 + timedelta(seconds=60), policy=policy)
        assert decision.reason == "gave up after 90s"

    def test_not_found_retries_with_backoff(self) -> None:
        decision = decide(FailureKind.NOT_FOUND, 2)
        assert decision.retry
        assert decision.next_attempt_at == T0 + timedelta(seconds=10)

    def test_not_found_stops_at_the_attempt_limit(self) -> None:
        assert decide(FailureKind.NOT_FOUND, 4).retry
        decision = decide(FailureKind.NOT_FOUND, 5)
        assert (decision.retry, decision.next_attempt_at) == (False, None)
        assert decision.reason == "not found after 5 attempts"

    def test_default_random_stays_within_the_jitter(self) -> None:
        decision = decide_retry(
            kind=FailureKind.TRANSIENT,
            attempts=2,
            first_attempt_at=T0,
            now=T0,
            policy=POLICY,
        )
        assert decision.next_attempt_at is not None
        assert 8.0 <= (decision.next_attempt_at - T0).total_seconds() <= 12.0
