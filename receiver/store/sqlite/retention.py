"""Retention on SQLite: purges in short batches on the writer, then an incremental vacuum that
gives the freed pages back to the file system."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from receiver.errors import StoreUnavailableError
from receiver.store import retention_sql as sql
from receiver.store.retention_sql import PurgeCounts
from receiver.store.sqlite.base import SqliteBase, fetch_rows, param

# Pages freed per step of the incremental vacuum: each step holds the write lock briefly.
_VACUUM_STEP_PAGES = 2000
_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL


class SqliteRetention(SqliteBase):
    """Retention on SQLite."""

    async def purge_bodies(
        self, *, before: datetime, now: datetime, batch: int, dry_run: bool
    ) -> PurgeCounts:
        """One grouped write (or, in a dry run, one read) per batch of events."""
        found = await self._fetchone(sql.HIGH_SEQ_SQL, (before,))
        high = found["high"] if found else None
        total, after = PurgeCounts(), 0
        while high is not None:
            params = (after, high, before, batch)
            if dry_run:
                rows = await self._fetchall(sql.CANDIDATES_SQL, params)
            else:
                rows = await self._write_grouped(_purge_batch(params, now))
            if not rows:
                break
            total += sql.batch_counts(rows)
            after = rows[-1]["seq"]
        return total

    async def reclaim_space(self, *, convert: bool) -> int:
        """Turn on incremental auto-vacuum if `convert` (one VACUUM, the first time; without
        it nothing is reclaimed), then free pages a step at a time and truncate the WAL; the
        bytes the database gave back."""
        before = await self._pages()
        if await self._pragma("auto_vacuum") != _INCREMENTAL:
            if not convert:
                return 0
            await self._on_writer("PRAGMA auto_vacuum = INCREMENTAL", "VACUUM")
        while await self._pragma("freelist_count"):
            await self._on_writer(f"PRAGMA incremental_vacuum({_VACUUM_STEP_PAGES})")
            await asyncio.sleep(0)  # let waiting writes in between steps
        await self._on_writer("PRAGMA wal_checkpoint(TRUNCATE)")
        return max(0, before - await self._pages()) * await self._pragma("page_size")

    async def _pages(self) -> int:
        return await self._pragma("page_count")

    async def _pragma(self, name: str) -> int:
        row = await self._fetchone(f"PRAGMA {name}")
        return int(next(iter(row.values()))) if row else 0

    async def _on_writer(self, *statements: str) -> None:
        """Statements that must run outside a transaction, on the writer, under its lock."""
        async with self._write_lock:
            conn = self._writer
            if conn is None:
                return
            try:
                for statement in statements:
                    await conn.execute_fetchall(statement)
            except sqlite3.Error as exc:
                raise StoreUnavailableError(f"vacuum failed: {exc}") from exc


def _purge_batch(
    params: tuple[object, ...], now: datetime
) -> Callable[[sqlite3.Connection], list[dict[str, Any]]]:
    """The write that purges one batch: pick the candidates, empty their bodies."""

    def write(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        rows = fetch_rows(conn, sql.CANDIDATES_SQL, params)
        ids = [row["id"] for row in rows]
        if ids:
            stamp = param(now)
            conn.execute(sql.purge_events_sql(len(ids)), [b"", stamp, *ids])
            conn.execute(sql.purge_documents_sql(len(ids)), [b"", stamp, *ids])
        return rows

    return write
