"""The reprocess verbs' SQL, written once with `?` placeholders (PostgreSQL renders them with
`sql.numbered`), and the filter of a bulk reprocess of dead jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

REPROCESS_JOB = "reprocess"
"""The job kind that runs an event's follow-up again, fetching its document again."""

QUEUE_SQL = (
    "INSERT INTO jobs (id, event_id, kind, status, attempts, next_attempt_at, created_at, "
    "updated_at) VALUES (?, ?, 'reprocess', 'pending', 0, ?, ?, ?) "
    "ON CONFLICT (event_id, kind) DO UPDATE SET status = 'pending', attempts = 0, "
    "next_attempt_at = excluded.next_attempt_at, lease_until = NULL, last_error = NULL, "
    "updated_at = excluded.updated_at WHERE jobs.status IN ('done', 'dead')"
)
"""One `reprocess` job for an event, pending and due now: a new row, or the event's earlier
reprocess job started over if it has finished (done or dead); left alone (no row changed)
while it is still pending or running."""

EVENT_EXISTS_SQL = "SELECT id FROM inbound_events WHERE id = ?"


@dataclass(frozen=True, slots=True)
class DeadJobFilter:
    """Which dead jobs a bulk reprocess revives: created in [since, until), of an account's
    events, of a kind."""

    since: datetime
    until: datetime
    account: str | None = None
    kind: str | None = None


def dead_jobs_sql(flt: DeadJobFilter) -> tuple[str, list[object]]:
    """The ids of the dead jobs `flt` matches, oldest first."""
    clauses = ["j.status = 'dead'", "j.created_at >= ?", "j.created_at < ?"]
    params: list[object] = [flt.since, flt.until]
    if flt.account is not None:
        clauses.append("e.account = ?")
        params.append(flt.account)
    if flt.kind is not None:
        clauses.append("j.kind = ?")
        params.append(flt.kind)
    sql = (
        "SELECT j.id FROM jobs j JOIN inbound_events e ON e.id = j.event_id "  # noqa: S608
        f"WHERE {' AND '.join(clauses)} ORDER BY j.seq"
    )
    return sql, params


def revive_sql(count: int) -> str:
    """Dead jobs back to pending, due now, by id (`count` ids after `now`, `now`)."""
    marks = ", ".join("?" * count)
    return (
        "UPDATE jobs SET status = 'pending', next_attempt_at = ?, lease_until = NULL, "  # noqa: S608
        f"updated_at = ? WHERE status = 'dead' AND id IN ({marks})"
    )
