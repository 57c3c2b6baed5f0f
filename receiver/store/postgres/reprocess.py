"""Reprocessing on PostgreSQL: a `reprocess` job queued, dead jobs revived; workers told."""

from __future__ import annotations

from datetime import datetime

from receiver.errors import NotFoundError
from receiver.ids import new_id
from receiver.store import reprocess_sql
from receiver.store.postgres.base import PostgresBase, rowcount
from receiver.store.reprocess_sql import DeadJobFilter, ReprocessCounts
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

    async def revive_dead_jobs(
        self, flt: DeadJobFilter, *, now: datetime, dry_run: bool
    ) -> ReprocessCounts:
        """Count and revive in one transaction."""
        sql, params = reprocess_sql.dead_jobs_sql(flt)
        async with self._transaction() as conn:
            ids = [row["id"] for row in await conn.fetch(numbered(sql), *params)]
            if dry_run or not ids:
                return ReprocessCounts(matched=len(ids), revived=0)
            status = await conn.execute(
                "UPDATE jobs SET status = 'pending', next_attempt_at = $1, lease_until = NULL, "
                "updated_at = $1 WHERE status = 'dead' AND id = ANY($2::text[])",
                now,
                ids,
            )
            revived = rowcount(status)
            if revived:
                await conn.execute("SELECT pg_notify($1, '')", self.channel("jobs"))
        return ReprocessCounts(matched=len(ids), revived=revived)
