"""Reprocessing on PostgreSQL: a `reprocess` job queued, dead jobs revived; workers told."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from receiver.errors import NotFoundError
from receiver.ids import new_id
from receiver.store import reprocess_sql
from receiver.store.postgres.base import PostgresBase, rowcount
from receiver.store.reprocess_sql import DeadJobFilter
from receiver.store.sql import numbered

_QUEUE_SQL = numbered(reprocess_sql.QUEUE_SQL)
_EVENT_EXISTS_SQL = numbered(reprocess_sql.EVENT_EXISTS_SQL)


class PostgresReprocess(PostgresBase):
    """ReprocessQueue on PostgreSQL."""

    async def queue_reprocess(self, event_id: str, *, now: datetime) -> bool:
        """One upsert in a transaction with the existence check."""
        async with self._transaction() as conn:
            if await conn.fetchval(_EVENT_EXISTS_SQL, event_id) is None:
                raise NotFoundError("no such event")
            status = await conn.execute(_QUEUE_SQL, new_id("job"), event_id, now, now, now)
            queued = rowcount(status) > 0
            if queued:
                await conn.execute("SELECT pg_notify($1, '')", self.channel("jobs"))
        return queued

    async def dead_job_ids(self, flt: DeadJobFilter) -> list[str]:
        """One read."""
        sql, params = reprocess_sql.dead_jobs_sql(flt)
        return [str(row["id"]) for row in await self._rows(sql, params)]

    async def revive_dead_jobs(self, job_ids: Sequence[str], *, now: datetime) -> int:
        """One UPDATE over the ids, and a wake-up."""
        if not job_ids:
            return 0
        async with self._transaction() as conn:
            status = await conn.execute(
                "UPDATE jobs SET status = 'pending', next_attempt_at = $1, lease_until = NULL, "
                "updated_at = $1 WHERE status = 'dead' AND id = ANY($2::text[])",
                now,
                list(job_ids),
            )
            revived = rowcount(status)
            if revived:
                await conn.execute("SELECT pg_notify($1, '')", self.channel("jobs"))
        return revived
