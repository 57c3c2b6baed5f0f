"""ReprocessQueue: the narrow store port of reprocessing (an event again, dead jobs revived)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from receiver.store.reprocess_sql import DeadJobFilter, ReprocessCounts


class ReprocessQueue(Protocol):
    """Run follow-ups again: one event's, or those of dead jobs by filter."""

    async def queue_reprocess(self, event_id: str, *, now: datetime) -> bool:
        """Put one `reprocess` job for the event in the queue, due at `now` (its earlier one
        started over if finished); False if one is still pending or running. NotFoundError
        for an unknown event. Wakes other processes' workers where it can."""

    async def revive_dead_jobs(
        self, flt: DeadJobFilter, *, now: datetime, dry_run: bool
    ) -> ReprocessCounts:
        """Count the dead jobs `flt` matches and, unless `dry_run`, put them back to pending,
        due at `now` (attempts kept, as `revive_job`). Wakes other processes' workers."""
