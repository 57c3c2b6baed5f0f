"""The job queue on SQLite: claim with a lease, finish, retry, kill; job results."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from receiver.errors import StoreUnavailableError
from receiver.models import (
    Job,
    JobResult,
    JobStatus,
)
from receiver.store import fanout_rows, job_sql, rows
from receiver.store.job_endings import JobEndings
from receiver.store.job_reads import JobReads
from receiver.store.sql import Statement
from receiver.store.sqlite.base import (
    SqliteBase,
    fetch_rows,
    param,
    run_statements,
    to_text,
)


class SqliteJobs(SqliteBase, JobReads, JobEndings):
    """The job queue on SQLite: claim with a lease, finish, retry, kill; job results."""

    # -- job queue -----------------------------------------------------------------------------
    async def claim_due_jobs(
        self,
        *,
        now: datetime,
        lease_seconds: int,
        limit: int,
        kinds: tuple[str, ...] | None = None,
    ) -> list[Job]:
        """Select the due ids and lease them in one write on the writer thread."""
        if limit < 1 or (kinds is not None and not kinds):
            return []
        now_text = to_text(now)
        lease_text = to_text(now + timedelta(seconds=lease_seconds))
        params: list[object] = [
            JobStatus.PENDING.value,
            now_text,
            JobStatus.RUNNING.value,
            now_text,
        ]
        kind_clause = ""
        if kinds is not None:
            kind_clause = f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params.extend(kinds)

        def claim(conn: sqlite3.Connection) -> list[Job]:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM jobs WHERE ((status = ? AND next_attempt_at <= ?) "  # noqa: S608
                    f"OR (status = ? AND lease_until < ?)){kind_clause} "
                    "ORDER BY next_attempt_at, seq LIMIT ?",
                    [*params, limit],
                )
            ]
            if not ids:
                return []
            marks = ", ".join("?" for _ in ids)
            conn.execute(
                "UPDATE jobs SET status = ?, lease_until = ?, updated_at = ? "  # noqa: S608
                f"WHERE id IN ({marks})",
                [JobStatus.RUNNING.value, lease_text, now_text, *ids],
            )
            found = fetch_rows(
                conn,
                f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE id IN ({marks}) "  # noqa: S608
                "ORDER BY next_attempt_at, seq",
                ids,
            )
            return [rows.job_from_row(row) for row in found]

        return await self._write_grouped(claim)

    async def _finish_job(
        self,
        job_id: str,
        statements: Sequence[Statement],
        result: JobResult | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Run a job's guarded ending and store `result` (stamped `now`), in one write."""

        def finish(conn: sqlite3.Connection) -> bool:
            if not run_statements(conn, statements):
                return False
            if result is not None and now is not None:
                found = conn.execute(job_sql.EVENT_OF_JOB, (job_id,)).fetchone()
                if found is None:  # the guard above matched it: cannot happen
                    raise StoreUnavailableError(f"job {job_id} vanished mid-transaction")
                _store_result(conn, result, found[0], found[1], now)
            return True

        return await self._write_grouped(finish)


def _store_result(
    conn: sqlite3.Connection,
    result: JobResult,
    event_id: str,
    account: str | None,
    now: datetime,
) -> None:
    """Insert a job result's rows, leaving any already stored by an earlier run or, for a
    document and the claims read from it, by another event of the same transaction."""
    stored_kinds: set[str] = set()
    for values in rows.document_params(result, event_id, account, now):
        cur = conn.execute(
            rows.INSERT_DOCUMENT.format(", ".join("?" * len(values))),
            [param(v) for v in values],
        )
        if cur.rowcount > 0:
            stored_kinds.add(str(values[2]))
    claims = rows.claim_params(result, event_id, now, frozenset(stored_kinds))
    if claims:
        conn.executemany(
            rows.INSERT_CLAIM.format(json=""), [tuple(param(v) for v in p) for p in claims]
        )
    if result.messages:
        conn.executemany(
            rows.INSERT_MESSAGE.format(json=""),
            [tuple(param(v) for v in p) for p in rows.message_params(result, event_id)],
        )
    _fan_out(conn, event_id, now)


def _fan_out(conn: sqlite3.Connection, event_id: str, now: datetime) -> None:
    """Owe each of the event's messages to every subscription (not removed) that wants it."""
    messages = fetch_rows(conn, job_sql.MESSAGES_OF_EVENT, (event_id,))
    subscriptions = [
        fanout_rows.subscription_from_row(row)
        for row in fetch_rows(conn, job_sql.LIVE_SUBSCRIPTIONS)
    ]
    planned = fanout_rows.plan_deliveries(messages, subscriptions, now)
    if planned:
        conn.executemany(job_sql.INSERT_DELIVERY, [tuple(param(v) for v in p) for p in planned])
