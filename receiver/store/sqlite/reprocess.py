"""Reprocessing on SQLite: a `reprocess` job queued, dead jobs revived in chunks."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from receiver.errors import NotFoundError
from receiver.ids import new_id
from receiver.store import reprocess_sql
from receiver.store.reprocess_sql import DeadJobFilter
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

    async def dead_job_ids(self, flt: DeadJobFilter) -> list[str]:
        """One read."""
        sql, params = reprocess_sql.dead_jobs_sql(flt)
        return [str(row["id"]) for row in await self._rows(sql, [param(p) for p in params])]

    async def revive_dead_jobs(self, job_ids: Sequence[str], *, now: datetime) -> int:
        """One write on the writer, `_CHUNK` ids per UPDATE."""
        stamp = to_text(now)

        def write(conn: sqlite3.Connection) -> int:
            revived = 0
            for i in range(0, len(job_ids), _CHUNK):
                chunk = list(job_ids[i : i + _CHUNK])
                cur = conn.execute(reprocess_sql.revive_sql(len(chunk)), [stamp, stamp, *chunk])
                revived += cur.rowcount
            return revived

        return await self._write_grouped(write) if job_ids else 0
