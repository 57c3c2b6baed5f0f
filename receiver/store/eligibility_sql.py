"""The eligibility area's SQL, written once with `?` placeholders, and its row mapping.

SQLite runs the statements as written; PostgreSQL runs `sql.numbered(sql)`, which numbers
the placeholders `$1..$n`. Timestamps are bound as aware datetimes (the SQLite adapter renders
them as sortable text) and read back through `sql.as_time`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from receiver.eligibility.records import (
    BatchStatus,
    EligibilityBatch,
    EligibilitySubmission,
    Origin,
)
from receiver.store.sql import as_time

_BATCH_COLUMNS = (
    "b.batch_id, b.submission_id, b.account, b.position, b.item_count, b.submitted_at, "
    "b.max_retry_hours, b.status, b.attempts, b.pages_seen, b.next_page_token, "
    "b.last_polled_at, b.next_poll_at, b.reason, b.completed_at, "
    "(SELECT COUNT(*) FROM eligibility_results r WHERE r.batch_id = b.batch_id) "
    "AS stored_results"
)

INSERT_SUBMISSION = (
    "INSERT INTO eligibility_submissions (id, account, origin, item_count, created_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
INSERT_BATCH = (
    "INSERT INTO eligibility_batches (batch_id, submission_id, account, position, item_count, "
    "submitted_at, max_retry_hours, status, attempts, pages_seen, next_page_token, "
    "last_polled_at, next_poll_at, reason, completed_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT_SUBMISSION = (
    "SELECT id, account, origin, item_count, created_at FROM eligibility_submissions WHERE id = ?"
)
SELECT_BATCHES = (
    f"SELECT {_BATCH_COLUMNS} FROM eligibility_batches b WHERE b.submission_id = ? "  # noqa: S608
    "ORDER BY b.position"
)
SELECT_BATCH = f"SELECT {_BATCH_COLUMNS} FROM eligibility_batches b WHERE b.batch_id = ?"  # noqa: S608
# The outer `next_poll_at <= ?` makes a concurrent claimer (PostgreSQL re-checks an updated
# row's condition after waiting for its lock) skip a batch another has just moved on.
CLAIM_DUE = (
    "UPDATE eligibility_batches SET next_poll_at = ? WHERE batch_id IN ("
    "SELECT batch_id FROM eligibility_batches WHERE status = 'polling' AND next_poll_at <= ? "
    "ORDER BY next_poll_at LIMIT ?) AND status = 'polling' AND next_poll_at <= ? "
    "RETURNING batch_id"
)
ANY_DUE = (
    "SELECT 1 AS due FROM eligibility_batches WHERE status = 'polling' AND next_poll_at <= ? "
    "LIMIT 1"
)
UPDATE_POLL = (
    "UPDATE eligibility_batches SET status = ?, attempts = ?, pages_seen = ?, "
    "next_page_token = ?, last_polled_at = ?, next_poll_at = ?, reason = ?, completed_at = ? "
    "WHERE batch_id = ?"
)
INSERT_RESULT = (
    "INSERT INTO eligibility_results (check_id, batch_id, status, created_at) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (check_id) DO NOTHING"
)
COUNT_RESULTS = (
    "SELECT status, COUNT(*) AS n FROM eligibility_results WHERE batch_id = ? GROUP BY status"
)


def claim_params(now: datetime, lease_until: datetime, limit: int) -> tuple[object, ...]:
    """The parameters of CLAIM_DUE."""
    return (lease_until, now, limit, now)


def submission_params(submission: EligibilitySubmission) -> tuple[object, ...]:
    """The parameters of INSERT_SUBMISSION."""
    return (
        submission.id,
        submission.account,
        submission.origin.value,
        submission.item_count,
        submission.created_at,
    )


def batch_params(batch: EligibilityBatch) -> tuple[object, ...]:
    """The parameters of INSERT_BATCH."""
    return (
        batch.batch_id,
        batch.submission_id,
        batch.account,
        batch.position,
        batch.item_count,
        batch.submitted_at,
        batch.max_retry_hours,
        batch.status.value,
        batch.attempts,
        batch.pages_seen,
        batch.next_page_token,
        batch.last_polled_at,
        batch.next_poll_at,
        batch.reason,
        batch.completed_at,
    )


def poll_params(batch: EligibilityBatch) -> tuple[object, ...]:
    """The parameters of UPDATE_POLL."""
    return (
        batch.status.value,
        batch.attempts,
        batch.pages_seen,
        batch.next_page_token,
        batch.last_polled_at,
        batch.next_poll_at,
        batch.reason,
        batch.completed_at,
        batch.batch_id,
    )


def submission_of(row: Mapping[str, Any]) -> EligibilitySubmission:
    """A submission from its row."""
    return EligibilitySubmission(
        id=str(row["id"]),
        account=str(row["account"]),
        origin=Origin(row["origin"]),
        item_count=int(row["item_count"]),
        created_at=as_time(row["created_at"]),
    )


def batch_of(row: Mapping[str, Any]) -> EligibilityBatch:
    """A batch from its row."""

    def maybe(value: object) -> datetime | None:
        return None if value is None else as_time(value)

    return EligibilityBatch(
        batch_id=str(row["batch_id"]),
        submission_id=str(row["submission_id"]),
        account=str(row["account"]),
        position=int(row["position"]),
        item_count=int(row["item_count"]),
        submitted_at=as_time(row["submitted_at"]),
        max_retry_hours=int(row["max_retry_hours"]),
        next_poll_at=as_time(row["next_poll_at"]),
        status=BatchStatus(row["status"]),
        attempts=int(row["attempts"]),
        pages_seen=int(row["pages_seen"]),
        next_page_token=row["next_page_token"],
        last_polled_at=maybe(row["last_polled_at"]),
        reason=row["reason"],
        completed_at=maybe(row["completed_at"]),
        stored_results=int(row["stored_results"]),
    )
