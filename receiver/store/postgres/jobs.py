"""The job queue on PostgreSQL: claim (SKIP LOCKED) with a lease, finish, retry, kill."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from receiver.models import (
    Job,
    JobResult,
    JobStatus,
)
from receiver.store import fanout_rows, job_sql, rows
from receiver.store.job_endings import JobEndings
from receiver.store.job_reads import JobReads
from receiver.store.postgres.base import PostgresBase, run_statements
from receiver.store.sql import Statement, numbered


class PostgresJobs(PostgresBase, JobReads, JobEndings):
    """The job queue on PostgreSQL: claim (SKIP LOCKED) with a lease, finish, retry, kill."""

    # -- job queue -----------------------------------------------------------------------------
    async def claim_due_jobs(
        self,
        *,
        now: datetime,
        lease_seconds: int,
        limit: int,
        kinds: tuple[str, ...] | None = None,
    ) -> list[Job]:
        """One UPDATE over a FOR UPDATE SKIP LOCKED sub-select: concurrent claimers skip
        each other's rows instead of waiting for them or taking them twice."""
        if limit < 1 or (kinds is not None and not kinds):
            return []
        kind_clause = " AND kind = ANY($6::text[])" if kinds is not None else ""
        params: list[object] = [
            JobStatus.RUNNING.value,
            now + timedelta(seconds=lease_seconds),
            now,
            JobStatus.PENDING.value,
            limit,
        ]
        if kinds is not None:
            params.append(list(kinds))
        found = await self._fetch(
            "UPDATE jobs SET status = $1, lease_until = $2, updated_at = $3 "  # noqa: S608
            "WHERE id IN (SELECT id FROM jobs "
            "WHERE ((status = $4 AND next_attempt_at <= $3) "
            f"OR (status = $1 AND lease_until < $3)){kind_clause} "
            "ORDER BY next_attempt_at, seq LIMIT $5 FOR UPDATE SKIP LOCKED) "
            f"RETURNING {rows.JOB_COLUMNS}",
            *params,
        )
        jobs = [rows.job_from_row(row) for row in found]
        jobs.sort(key=lambda job: job.next_attempt_at)
        return jobs

    async def _finish_job(
        self,
        job_id: str,
        statements: Sequence[Statement],
        result: JobResult | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Run a job's guarded ending and store `result` (stamped `now`), in one transaction;
        workers waiting on deliveries are told when the result had messages."""
        async with self._transaction() as conn:
            if not await run_statements(conn, statements):
                return False
            if result is not None and now is not None:
                row = await conn.fetchrow(numbered(job_sql.EVENT_OF_JOB), job_id)
                await _store_result(conn, result, row["event_id"], row["account"], now)
                if result.messages:
                    await conn.execute("SELECT pg_notify($1, '')", self.channel("deliveries"))
            return True


async def _store_result(
    conn: Any, result: JobResult, event_id: str, account: str | None, now: datetime
) -> None:
    """Insert a job result's rows, leaving any already stored by an earlier run or, for a
    document and the claims read from it, by another event of the same transaction (a
    concurrent one waits on the unique index until that one commits)."""
    stored_kinds: set[str] = set()
    for values in rows.document_params(result, event_id, account, now):
        marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        inserted = await conn.fetchval(
            rows.INSERT_DOCUMENT.format(marks) + " RETURNING kind", *values
        )
        if inserted is not None:
            stored_kinds.add(inserted)
    claims = rows.claim_params(result, event_id, now, frozenset(stored_kinds))
    if claims:
        await conn.executemany(numbered(rows.INSERT_CLAIM.format(json="::jsonb")), claims)
    if result.messages:
        await conn.executemany(
            numbered(rows.INSERT_MESSAGE.format(json="::jsonb")),
            rows.message_params(result, event_id),
        )
    await _fan_out(conn, event_id, now)


async def _fan_out(conn: Any, event_id: str, now: datetime) -> None:
    """Owe each of the event's messages to every subscription (not removed) that wants it."""
    messages = await conn.fetch(numbered(job_sql.MESSAGES_OF_EVENT), event_id)
    subscriptions = [
        fanout_rows.subscription_from_row(row)
        for row in await conn.fetch(job_sql.LIVE_SUBSCRIPTIONS)
    ]
    planned = fanout_rows.plan_deliveries(messages, subscriptions, now)
    if planned:
        await conn.executemany(numbered(job_sql.INSERT_DELIVERY), planned)
