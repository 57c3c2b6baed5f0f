"""SqliteEligibility: claiming due eligibility batches on SQLite (the rest of the
eligibility port is `store.eligibility`, written once)."""

from __future__ import annotations

from datetime import datetime

from receiver.store import eligibility_sql as q
from receiver.store.sqlite.base import SqliteBase, param


class SqliteEligibility(SqliteBase):
    """The claim of due eligibility batches."""

    async def _claim_due_batch_ids(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[str]:
        """The one writer serialises claimers; the write is taken only when a read saw a
        batch due (the poller asks every second, and SQLite has one writer)."""
        if not await self._rows(q.ANY_DUE, (now,)):
            return []
        async with self._transaction() as conn:
            cursor = await conn.execute(
                q.CLAIM_DUE, [param(v) for v in q.claim_params(now, lease_until, limit)]
            )
            return [str(row["batch_id"]) for row in await cursor.fetchall()]
