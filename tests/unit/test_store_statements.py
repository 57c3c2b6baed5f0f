"""The guarded writes written once as statement lists: a guard first, one value per `?`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from receiver.models import AttemptOutcome, DeliveryAttempt, DeliveryStatus, EventStatus, JobStatus
from receiver.store import job_sql
from receiver.store.base import MAX_ERROR_CHARS
from receiver.store.deliveries import finish_statements, revive_statements
from receiver.store.sql import Statement

NOW = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
LEASE = NOW + timedelta(seconds=30)


def _well_formed(statements: list[Statement]) -> None:
    assert statements[0].guard
    assert not any(s.guard for s in statements[1:])
    for s in statements:
        assert s.sql.count("?") == len(s.params), s.sql


def test_complete_guards_on_the_lease_and_marks_the_event_processed() -> None:
    statements = job_sql.complete("job_1", now=NOW, lease_until=LEASE)
    _well_formed(statements)
    guard, event = statements
    assert guard.params == (JobStatus.DONE.value, NOW, "job_1", JobStatus.RUNNING.value, LEASE)
    assert "lease_until = ?" in guard.sql.split("WHERE")[1]
    assert event.params == (EventStatus.PROCESSED.value, "job_1")


def test_retry_leaves_the_event_alone_and_truncates_the_error() -> None:
    later = NOW + timedelta(minutes=1)
    statements = job_sql.retry(
        "job_1", now=NOW, lease_until=LEASE, next_attempt_at=later, error="x" * 5000
    )
    _well_formed(statements)
    (guard,) = statements
    assert guard.params[:3] == (JobStatus.PENDING.value, "x" * MAX_ERROR_CHARS, later)


def test_kill_marks_the_event_failed() -> None:
    statements = job_sql.kill("job_1", now=NOW, lease_until=LEASE, error="boom")
    _well_formed(statements)
    assert statements[0].params[0] == JobStatus.DEAD.value
    assert statements[1].params == (EventStatus.FAILED.value, "job_1")


def test_revives_are_guarded_by_the_dead_status() -> None:
    for statements in (
        job_sql.revive("job_1", now=NOW),
        revive_statements("dlv_1", now=NOW),
    ):
        _well_formed(statements)
        assert len(statements) == 1
        assert "dead" in statements[0].sql or JobStatus.DEAD.value in statements[0].params


def _outcome(status: DeliveryStatus, disable: str | None = None) -> AttemptOutcome:
    attempt = DeliveryAttempt(
        delivery_id="dlv_1",
        attempt=1,
        started_at=NOW,
        duration_ms=12,
        status_code=500 if status != DeliveryStatus.DELIVERED else 200,
        response_excerpt="",
        error=None if status == DeliveryStatus.DELIVERED else "HTTP 500",
    )
    return AttemptOutcome(
        attempt=attempt, next_status=status, next_attempt_at=None, disable=disable
    )


def test_a_delivered_attempt_clears_failing_since() -> None:
    statements = finish_statements(
        "dlv_1", now=NOW, lease_until=LEASE, outcome=_outcome(DeliveryStatus.DELIVERED)
    )
    _well_formed(statements)
    assert len(statements) == 3
    assert "failing_since = NULL" in statements[2].sql


def test_a_failed_attempt_keeps_the_first_failure_and_may_disable() -> None:
    statements = finish_statements(
        "dlv_1",
        now=NOW,
        lease_until=LEASE,
        outcome=_outcome(DeliveryStatus.DEAD, disable="gone"),
    )
    _well_formed(statements)
    assert len(statements) == 4
    assert "COALESCE(failing_since, ?)" in statements[2].sql
    assert statements[3].params[1:3] == ("gone", NOW)
