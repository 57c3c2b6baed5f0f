"""Retention on PostgreSQL: purges in short transactions; the space is PostgreSQL's to reuse."""

from __future__ import annotations

from datetime import datetime

from receiver.store import retention_sql as sql
from receiver.store.postgres.base import PostgresBase
from receiver.store.retention_sql import PurgeCounts
from receiver.store.sql import numbered

_HIGH_SEQ_SQL = numbered(sql.HIGH_SEQ_SQL)
_CANDIDATES_SQL = numbered(sql.CANDIDATES_SQL)


class PostgresRetention(PostgresBase):
    """Retention on PostgreSQL."""

    async def purge_bodies(
        self, *, before: datetime, now: datetime, batch: int, dry_run: bool
    ) -> PurgeCounts:
        """One transaction per batch of events (one read in a dry run)."""
        high = (await self._fetchrow(_HIGH_SEQ_SQL, before))["high"]
        total, after = PurgeCounts(), 0
        while high is not None:
            async with self._transaction() as conn:
                rows = [
                    dict(r) for r in await conn.fetch(_CANDIDATES_SQL, after, high, before, batch)
                ]
                ids = [row["id"] for row in rows]
                if ids and not dry_run:
                    for statement in (sql.purge_events_sql, sql.purge_documents_sql):
                        await conn.execute(numbered(statement(len(ids))), b"", now, *ids)
            if not rows:
                break
            total += sql.batch_counts(rows)
            after = rows[-1]["seq"]
        return total

    async def reclaim_space(self, *, convert: bool) -> int:
        """Nothing to do: (auto)vacuum makes the purged space reusable inside the database;
        only VACUUM FULL, which locks each table for its whole rewrite, would shrink files."""
        return 0
