"""The job queue on SQLite: claim with a lease, finish, retry, kill, revive; job results."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from receiver.errors import StoreUnavailableError
from receiver.models import (
    Document,
    Job,
    JobFilter,
    JobResult,
    JobStatus,
    OutboundMessage,
    Page,
    TimelineEntry,
)
from receiver.store import fanout_rows, job_sql, rows
from receiver.store.base import check_limit, decode_cursor
from receiver.store.sql import Statement
from receiver.store.sqlite.base import (
    SqliteBase,
    fetch_rows,
    param,
    placeholder,
    run_statements,
    to_text,
)


class SqliteJobs(SqliteBase):
    """The job queue on SQLite: claim with a lease, finish, retry, kill, revive; job results."""

    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None) -> Page[Job]:
        """Newest first, cursor on `seq`."""
        where, params = rows.job_conditions(flt, decode_cursor(cursor), placeholder)
        found = await self._fetchall(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs{where} ORDER BY seq DESC LIMIT ?",  # noqa: S608
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, rows.job_from_row)

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

    async def complete_job(
        self,
        job_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        result: JobResult | None = None,
    ) -> bool:
        """Done, attempts + 1, event processed, `result` stored; guarded by the lease."""
        return await self._finish_job(
            job_id, job_sql.complete(job_id, now=now, lease_until=lease_until), result, now
        )

    async def retry_job(
        self,
        job_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        next_attempt_at: datetime,
        error: str,
    ) -> bool:
        """Pending again at `next_attempt_at`, attempts + 1; guarded by the lease."""
        return await self._finish_job(
            job_id,
            job_sql.retry(
                job_id,
                now=now,
                lease_until=lease_until,
                next_attempt_at=next_attempt_at,
                error=error,
            ),
        )

    async def kill_job(
        self, job_id: str, *, now: datetime, lease_until: datetime, error: str
    ) -> bool:
        """Dead, attempts + 1, event failed; guarded by the lease."""
        return await self._finish_job(
            job_id, job_sql.kill(job_id, now=now, lease_until=lease_until, error=error)
        )

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

    async def fetch_documents(self, event_id: str) -> list[Document]:
        """By kind."""
        found = await self._fetchall(
            f"SELECT {rows.DOCUMENT_COLUMNS} FROM documents "  # noqa: S608
            "WHERE event_id = ? ORDER BY kind",
            (event_id,),
        )
        return [rows.document_from_row(row) for row in found]

    async def fetch_transaction_document(
        self, account: str | None, transaction_id: str, kind: str
    ) -> Document | None:
        """By the (account, transaction_id, kind) unique index."""
        row = await self._fetchone(
            f"SELECT {rows.DOCUMENT_COLUMNS} FROM documents "  # noqa: S608
            "WHERE account = ? AND transaction_id = ? AND kind = ?",
            (account or "", transaction_id, kind),
        )
        return None if row is None else rows.document_from_row(row)

    async def claim_timeline(self, patient_control_number: str) -> list[TimelineEntry]:
        """Oldest event first, then insertion order."""
        found = await self._fetchall(
            f"SELECT {rows.TIMELINE_COLUMNS} FROM claim_entries c "  # noqa: S608
            "JOIN inbound_events e ON e.id = c.event_id "
            "WHERE c.patient_control_number = ? ORDER BY e.received_at, c.seq",
            (patient_control_number,),
        )
        return [rows.timeline_from_row(row) for row in found]

    async def list_messages(self, *, limit: int, cursor: str | None) -> Page[OutboundMessage]:
        """Newest first, cursor on `seq`."""
        where, params = rows.where_clause([("seq < {}", decode_cursor(cursor))], placeholder)
        found = await self._fetchall(
            f"SELECT {rows.MESSAGE_COLUMNS} FROM outbound_messages{where} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, rows.message_from_row)

    async def count_jobs_by_status(self) -> dict[str, int]:
        """One GROUP BY over the jobs table."""
        found = await self._fetchall("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: row["n"] for row in found}

    async def revive_job(self, job_id: str, *, now: datetime) -> bool:
        """Dead -> pending, due now."""
        statements = job_sql.revive(job_id, now=now)
        return await self._write_grouped(lambda conn: run_statements(conn, statements))


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
            "INSERT INTO claim_entries (event_id, ordinal, patient_control_number, kind, data, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [tuple(param(v) for v in p) for p in claims],
        )
    if result.messages:
        conn.executemany(
            "INSERT INTO outbound_messages (id, event_id, type, account, data, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
