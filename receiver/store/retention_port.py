"""Retention: the narrow store port that purges old events' bodies and reclaims the space."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from receiver.store.retention_sql import PurgeCounts


class Retention(Protocol):
    """Purge the raw bodies and documents of old, settled events; keep everything else."""

    async def purge_bodies(
        self, *, before: datetime, now: datetime, batch: int, dry_run: bool
    ) -> PurgeCounts:
        """Empty the raw body and the documents' bodies of every event received before
        `before` with nothing owed (see `retention_sql`), `batch` events per transaction so
        no lock is held long, stamping `purged_at = now`; a dry run only counts."""

    async def reclaim_space(self) -> int:
        """Give the space purged rows left back to the file system where the store can (SQLite:
        incremental vacuum, converting the file once); the bytes returned (0 elsewhere)."""
