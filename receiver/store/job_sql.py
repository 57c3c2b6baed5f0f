"""The job queue's SQL written once: how a leased job ends, as guarded statement lists, and
the fan-out of an event's messages."""

from __future__ import annotations

from datetime import datetime

from receiver.models import EventStatus, JobStatus
from receiver.store import fanout_rows
from receiver.store.base import truncate_error
from receiver.store.sql import Statement, marks

_LEASE_GUARD = " WHERE id = ? AND status = ? AND lease_until = ?"
_EVENT_STATUS = (
    "UPDATE inbound_events SET status = ? WHERE id = (SELECT event_id FROM jobs WHERE id = ?)"
)
# The event and account of a job, for storing its result.
EVENT_OF_JOB = (
    "SELECT j.event_id, e.account FROM jobs j JOIN inbound_events e ON e.id = j.event_id "
    "WHERE j.id = ?"
)
# Fan-out: an event's messages, the subscriptions that may want them, and a delivery owed
# (rows from `fanout_rows.plan_deliveries`). Run whether or not the result had messages:
# with none stored for the event it plans nothing and writes nothing.
MESSAGES_OF_EVENT = "SELECT id, type, account FROM outbound_messages WHERE event_id = ?"
LIVE_SUBSCRIPTIONS = (
    f"SELECT {fanout_rows.SUBSCRIPTION_COLUMNS} FROM subscriptions "  # noqa: S608
    "WHERE status <> 'removed'"
)
INSERT_DELIVERY = fanout_rows.INSERT_DELIVERY.format(marks(9))


def _finish(
    job_id: str,
    lease_until: datetime,
    assignments: str,
    params: tuple[object, ...],
    event_status: EventStatus | None,
) -> list[Statement]:
    """Apply `assignments` to a job only while it is still running under exactly
    `lease_until`; then set its event's status."""
    statements = [
        Statement(
            f"UPDATE jobs SET {assignments}{_LEASE_GUARD}",  # noqa: S608
            (*params, job_id, JobStatus.RUNNING.value, lease_until),
            guard=True,
        )
    ]
    if event_status is not None:
        statements.append(Statement(_EVENT_STATUS, (event_status.value, job_id)))
    return statements


def complete(job_id: str, *, now: datetime, lease_until: datetime) -> list[Statement]:
    """Done, attempts + 1, event processed; guarded by the lease."""
    return _finish(
        job_id,
        lease_until,
        "status = ?, attempts = attempts + 1, lease_until = NULL, last_error = NULL, "
        "updated_at = ?",
        (JobStatus.DONE.value, now),
        EventStatus.PROCESSED,
    )


def retry(
    job_id: str, *, now: datetime, lease_until: datetime, next_attempt_at: datetime, error: str
) -> list[Statement]:
    """Pending again at `next_attempt_at`, attempts + 1; guarded by the lease."""
    return _finish(
        job_id,
        lease_until,
        "status = ?, attempts = attempts + 1, lease_until = NULL, last_error = ?, "
        "next_attempt_at = ?, updated_at = ?",
        (JobStatus.PENDING.value, truncate_error(error), next_attempt_at, now),
        None,
    )


def kill(job_id: str, *, now: datetime, lease_until: datetime, error: str) -> list[Statement]:
    """Dead, attempts + 1, event failed; guarded by the lease."""
    return _finish(
        job_id,
        lease_until,
        "status = ?, attempts = attempts + 1, lease_until = NULL, last_error = ?, updated_at = ?",
        (JobStatus.DEAD.value, truncate_error(error), now),
        EventStatus.FAILED,
    )


def revive(job_id: str, *, now: datetime) -> list[Statement]:
    """Dead -> pending, due now; guarded by the job still being dead."""
    return [
        Statement(
            "UPDATE jobs SET status = ?, next_attempt_at = ?, lease_until = NULL, "
            "updated_at = ? WHERE id = ? AND status = ?",
            (JobStatus.PENDING.value, now, now, job_id, JobStatus.DEAD.value),
            guard=True,
        )
    ]
