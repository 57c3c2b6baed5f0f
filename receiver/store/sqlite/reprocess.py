"""Reprocessing on SQLite: a `reprocess` job queued, dead jobs revived in chunks."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from receiver.errors import NotFoundError
from receiver.ids import new_id
from receiver.store import reprocess_sql
from receiver.store.reprocess_sql import DeadJobFilter, ReprocessCounts
from receiver.store.sqlite.base import SqliteBase, param, to_text

# Ids per UPDATE: well under SQLite's limit on bound parameters.
_CHUNK = 500


class SqliteReprocess(SqliteBase):
    """ReprocessQueue on SQLite."""

    async def queue_reprocess(self, event_id: str, *, now: datetime) -> bool:
        """One upsert on the writer, after checking the event exists."""
        stamp = to_text(now)

        def write(conn: sqlite3.Connection) -> bool:
            if conn.execute(reprocess_sql.EVENT_EXISTS_SQL, (event_id,)).fetchone() is None:
                raise NotFoundError("no such event")
            params = (new_id("job"), event_id, stamp, stamp, stamp)
            return conn.execute(reprocess_sql.QUEUE_SQL, params).rowcount > 0

        return await self._write_grouped(write)

    async def revive_dead_jobs(
        self, flt: DeadJobFilter, *, now: datetime, dry_run: bool
    ) -> ReprocessCounts:
        """Count and revive in one transaction, `_CHUNK` ids per UPDATE."""
        sql, params = reprocess_sql.dead_jobs_sql(flt)
        stamp = to_text(now)

        def write(conn: sqlite3.Connection) -> ReprocessCounts:
            ids = [row[0] for row in conn.execute(sql, [param(p) for p in params])]
            if dry_run:
                return ReprocessCounts(matched=len(ids), revived=0)
            revived = 0
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                cur = conn.execute(reprocess_sql.revive_sql(len(chunk)), [stamp, stamp, *chunk])
                revived += cur.rowcount
            return ReprocessCounts(matched=len(ids), revived=revived)

        return await self._write_grouped(write)
