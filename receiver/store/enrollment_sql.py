"""The enrollment area's SQL (Optum connections, ERA submissions, submitted records), written
once with `?` placeholders (PostgreSQL renders them with `sql.numbered`), and its row mapping."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from receiver.enrollment.submissions import (
    EraSubmission,
    LiveRecord,
    RecordState,
    StoredConnection,
    SubmissionStatus,
)
from receiver.store.sql import as_time
from receiver.upstream.optum import OptumConnection, TokenAuthMethod

_CONNECTION_COLUMNS = (
    "name, tenant_id, client_id, client_secret, token_auth_method, discover_missed, created_at"
)
_SUBMISSION_COLUMNS = (
    "id, connection, record_count, created_at, status, payload_id, attempts, "
    "not_found_streak, first_poll_at, next_poll_at, last_polled_at, reason, trace_id, "
    "result, completed_at"
)

INSERT_CONNECTION = (
    f"INSERT INTO optum_connections ({_CONNECTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
)
UPDATE_CONNECTION = (
    "UPDATE optum_connections SET tenant_id = ?, client_id = ?, client_secret = ?, "
    "token_auth_method = ?, discover_missed = ? WHERE name = ?"
)
SELECT_CONNECTION = f"SELECT {_CONNECTION_COLUMNS} FROM optum_connections WHERE name = ?"  # noqa: S608
SELECT_CONNECTIONS = f"SELECT {_CONNECTION_COLUMNS} FROM optum_connections ORDER BY name"  # noqa: S608
DELETE_CONNECTION = "DELETE FROM optum_connections WHERE name = ?"

INSERT_SUBMISSION = (
    f"INSERT INTO era_submissions ({_SUBMISSION_COLUMNS}) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_RECORD = (
    "INSERT INTO era_records (submission_id, position, fingerprint, state) VALUES (?, ?, ?, ?)"
)
SELECT_SUBMISSION = f"SELECT {_SUBMISSION_COLUMNS} FROM era_submissions WHERE id = ?"  # noqa: S608
UPDATE_SUBMISSION = (
    "UPDATE era_submissions SET status = ?, payload_id = ?, attempts = ?, "
    "not_found_streak = ?, first_poll_at = ?, next_poll_at = ?, last_polled_at = ?, "
    "reason = ?, trace_id = ?, result = ?, completed_at = ? WHERE id = ?"
)
SELECT_LIVE_RECORD = (
    "SELECT fingerprint, submission_id, position, state FROM era_records "
    "WHERE fingerprint = ? AND state IN ('pending', 'accepted')"
)
SET_RECORD_STATES = "UPDATE era_records SET state = ? WHERE submission_id = ?"
SET_RECORD_STATE = "UPDATE era_records SET state = ? WHERE submission_id = ? AND fingerprint = ?"
# A release: the submission moved from the status it was read in (compare-and-set) to dead,
# then its records still pending released; a submission settled meanwhile changes nothing.
RELEASE_SUBMISSION = (
    "UPDATE era_submissions SET status = 'dead', reason = ?, next_poll_at = NULL, "
    "completed_at = ? WHERE id = ? AND status = ?"
)
RELEASE_RECORDS = (
    "UPDATE era_records SET state = 'released' WHERE submission_id = ? AND state = 'pending'"
)
# The outer `next_poll_at <= ?` makes a concurrent claimer (PostgreSQL re-checks an updated
# row's condition after waiting for its lock) skip a submission another has just moved on.
CLAIM_DUE = (
    "UPDATE era_submissions SET next_poll_at = ? WHERE id IN ("  # noqa: S608
    "SELECT id FROM era_submissions WHERE status = 'polling' AND next_poll_at <= ? "
    "ORDER BY next_poll_at LIMIT ?) AND status = 'polling' AND next_poll_at <= ? "
    f"RETURNING {_SUBMISSION_COLUMNS}"
)
ANY_DUE = (
    "SELECT 1 AS due FROM era_submissions WHERE status = 'polling' AND next_poll_at <= ? LIMIT 1"
)


def claim_params(now: datetime, lease_until: datetime, limit: int) -> tuple[object, ...]:
    """The parameters of CLAIM_DUE."""
    return (lease_until, now, limit, now)


def connection_params(stored: StoredConnection) -> tuple[object, ...]:
    """The parameters of INSERT_CONNECTION."""
    c = stored.connection
    return (
        c.name,
        c.tenant_id,
        c.client_id,
        c.client_secret,
        c.token_auth_method.value,
        int(stored.discover_missed),
        stored.created_at,
    )


def connection_update_params(stored: StoredConnection) -> tuple[object, ...]:
    """The parameters of UPDATE_CONNECTION."""
    c = stored.connection
    return (
        c.tenant_id,
        c.client_id,
        c.client_secret,
        c.token_auth_method.value,
        int(stored.discover_missed),
        c.name,
    )


def _result_text(submission: EraSubmission) -> str | None:
    return None if submission.result is None else orjson.dumps(submission.result).decode()


def submission_params(s: EraSubmission) -> tuple[object, ...]:
    """The parameters of INSERT_SUBMISSION."""
    return (
        s.id,
        s.connection,
        s.record_count,
        s.created_at,
        s.status.value,
        s.payload_id,
        s.attempts,
        s.not_found_streak,
        s.first_poll_at,
        s.next_poll_at,
        s.last_polled_at,
        s.reason,
        s.trace_id,
        _result_text(s),
        s.completed_at,
    )


def submission_update_params(s: EraSubmission) -> tuple[object, ...]:
    """The parameters of UPDATE_SUBMISSION: the columns after the four fixed at insert (id,
    connection, record_count, created_at), then the id."""
    return (*submission_params(s)[4:], s.id)


def connection_of(row: Mapping[str, Any]) -> StoredConnection:
    """A connection from its row."""
    return StoredConnection(
        connection=OptumConnection(
            name=str(row["name"]),
            tenant_id=str(row["tenant_id"]),
            client_id=str(row["client_id"]),
            client_secret=str(row["client_secret"]),
            token_auth_method=TokenAuthMethod(row["token_auth_method"]),
        ),
        created_at=as_time(row["created_at"]),
        discover_missed=bool(row["discover_missed"]),
    )


def submission_of(row: Mapping[str, Any]) -> EraSubmission:
    """A submission from its row."""

    def maybe(value: object) -> datetime | None:
        return None if value is None else as_time(value)

    raw = row["result"]
    result = orjson.loads(raw) if isinstance(raw, str) else None
    return EraSubmission(
        id=str(row["id"]),
        connection=str(row["connection"]),
        record_count=int(row["record_count"]),
        created_at=as_time(row["created_at"]),
        status=SubmissionStatus(row["status"]),
        payload_id=row["payload_id"],
        attempts=int(row["attempts"]),
        not_found_streak=int(row["not_found_streak"]),
        first_poll_at=maybe(row["first_poll_at"]),
        next_poll_at=maybe(row["next_poll_at"]),
        last_polled_at=maybe(row["last_polled_at"]),
        reason=row["reason"],
        trace_id=row["trace_id"],
        result=result if isinstance(result, dict) else None,
        completed_at=maybe(row["completed_at"]),
    )


def live_record_of(row: Mapping[str, Any]) -> LiveRecord:
    """A live record from its row."""
    return LiveRecord(
        fingerprint=str(row["fingerprint"]),
        submission_id=str(row["submission_id"]),
        position=int(row["position"]),
        state=RecordState(row["state"]),
    )
