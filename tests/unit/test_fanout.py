"""Unit tests for receiver.delivery.rules: type matching, schedules, next attempt time, outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from receiver.delivery.rules import (
    DEFAULT_SCHEDULE,
    disables_subscription,
    is_success,
    matches_subscription,
    matches_type,
    next_delivery_at,
)
from receiver.policy import parse_schedule

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class TestMatchesType:
    @pytest.mark.parametrize(
        ("pattern", "event_type"),
        [
            ("claim.remittance.received", "claim.remittance.received"),
            ("claim.*", "claim.remittance.received"),
            ("claim.*", "claim.x"),
            ("claim.remittance.*", "claim.remittance.received"),
            ("*", "anything.at.all"),
            ("*", "claim"),
        ],
    )
    def test_matches(self, pattern: str, event_type: str) -> None:
        assert matches_type(pattern, event_type)

    @pytest.mark.parametrize(
        ("pattern", "event_type"),
        [
            ("claim.*", "claims.x"),
            ("claim.*", "claim"),
            ("claim.*", "claim."),
            ("claim.remittance.received", "claim.remittance"),
            ("claim.r", "claim.remittance"),
            ("claim.*", "other.claim.x"),
            ("c.*", "cXclaim"),
            ("claim*", "claimx"),
        ],
    )
    def test_does_not_match(self, pattern: str, event_type: str) -> None:
        assert not matches_type(pattern, event_type)

    def test_pattern_is_not_a_regex(self) -> None:
        assert not matches_type("a.b", "aXb")
        assert not matches_type("a|b", "a")


class TestMatchesSubscription:
    def test_type_and_no_account_filter(self) -> None:
        assert matches_subscription(
            type_patterns=["x.y", "claim.*"],
            account_filter=None,
            event_type="claim.ack",
            account="acct-1",
        )

    def test_no_matching_pattern(self) -> None:
        assert not matches_subscription(
            type_patterns=["x.y"], account_filter=None, event_type="claim.ack", account=None
        )

    def test_empty_patterns_match_nothing(self) -> None:
        assert not matches_subscription(
            type_patterns=[], account_filter=None, event_type="claim.ack", account=None
        )

    @pytest.mark.parametrize(("account", "expected"), [("a", True), ("b", False), (None, False)])
    def test_account_filter_must_equal(self, account: str | None, expected: bool) -> None:
        got = matches_subscription(
            type_patterns=["*"], account_filter="a", event_type="claim.ack", account=account
        )
        assert got is expected


class TestParseSchedule:
    def test_default_string(self) -> None:
        assert parse_schedule("0,5,300,1800,7200,18000,36000,36000") == DEFAULT_SCHEDULE

    def test_whitespace_and_fractions(self) -> None:
        assert parse_schedule(" 0 , 1.5,\t2 ") == (0.0, 1.5, 2.0)

    def test_single(self) -> None:
        assert parse_schedule("10") == (10.0,)

    @pytest.mark.parametrize(
        "raw", ["", "   ", "1,,2", "1,", "a", "1,-1", "nan", "inf", "1,-inf", "0x10"]
    )
    def test_rejects(self, raw: str) -> None:
        with pytest.raises(ValueError, match="retry schedule"):
            parse_schedule(raw)


class TestNextDeliveryAt:
    def test_first_attempt_immediate_without_jitter(self) -> None:
        assert next_delivery_at(attempts=0, now=NOW, schedule=DEFAULT_SCHEDULE) == NOW

    def test_dead_when_budget_spent(self) -> None:
        assert next_delivery_at(attempts=8, now=NOW, schedule=DEFAULT_SCHEDULE) is None
        assert next_delivery_at(attempts=9, now=NOW, schedule=DEFAULT_SCHEDULE) is None
        assert next_delivery_at(attempts=0, now=NOW, schedule=()) is None

    def test_negative_attempts_rejected(self) -> None:
        with pytest.raises(ValueError, match="attempts"):
            next_delivery_at(attempts=-1, now=NOW, schedule=DEFAULT_SCHEDULE)

    @pytest.mark.parametrize(("draw", "factor"), [(0.0, 0.9), (0.5, 1.0), (1.0, 1.1)])
    def test_jitter_bounds(self, draw: float, factor: float) -> None:
        got = next_delivery_at(attempts=2, now=NOW, schedule=DEFAULT_SCHEDULE, random=lambda: draw)
        assert got == NOW + timedelta(seconds=300 * factor)

    def test_no_jitter(self) -> None:
        got = next_delivery_at(
            attempts=1, now=NOW, schedule=DEFAULT_SCHEDULE, jitter=0, random=lambda: 0.0
        )
        assert got == NOW + timedelta(seconds=5)

    def test_larger_retry_after_wins(self) -> None:
        got = next_delivery_at(
            attempts=1, now=NOW, schedule=DEFAULT_SCHEDULE, retry_after=60, jitter=0
        )
        assert got == NOW + timedelta(seconds=60)

    def test_smaller_retry_after_ignored(self) -> None:
        got = next_delivery_at(
            attempts=2, now=NOW, schedule=DEFAULT_SCHEDULE, retry_after=60, jitter=0
        )
        assert got == NOW + timedelta(seconds=300)

    def test_retry_after_capped(self) -> None:
        got = next_delivery_at(
            attempts=1,
            now=NOW,
            schedule=DEFAULT_SCHEDULE,
            retry_after=10**9,
            max_retry_after=3600,
            jitter=0,
        )
        assert got == NOW + timedelta(seconds=3600)

    def test_retry_after_never_shortens_schedule(self) -> None:
        got = next_delivery_at(
            attempts=5, now=NOW, schedule=DEFAULT_SCHEDULE, retry_after=10**9, jitter=0
        )
        assert got == NOW + timedelta(seconds=18000)

    def test_retry_after_on_zero_slot(self) -> None:
        got = next_delivery_at(attempts=0, now=NOW, schedule=DEFAULT_SCHEDULE, retry_after=30)
        assert got == NOW + timedelta(seconds=30)


class TestOutcomes:
    @pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
    def test_success(self, status: int) -> None:
        assert is_success(status)

    @pytest.mark.parametrize("status", [100, 199, 300, 301, 400, 410, 429, 500, 503])
    def test_not_success(self, status: int) -> None:
        assert not is_success(status)

    def test_disables_only_on_410(self) -> None:
        assert disables_subscription(410)
        assert not any(disables_subscription(s) for s in (200, 400, 401, 403, 404, 429, 500))
