"""SqliteEnrollment: claiming due ERA submissions on SQLite (the rest of the enrollment port
is `store.enrollment`, written once)."""

from __future__ import annotations

from datetime import datetime

from receiver.enrollment.submissions import EraSubmission
from receiver.store import enrollment_sql as q
from receiver.store.sqlite.base import SqliteBase, param


class SqliteEnrollment(SqliteBase):
    """The claim of due ERA submissions."""

    async def claim_due_era_submissions(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EraSubmission]:
        """The write is taken only when a read saw a submission due (SQLite has one
        writer, and the poller asks every second)."""
        if not await self._rows(q.ANY_DUE, (now,)):
            return []
        async with self._transaction() as conn:
            cursor = await conn.execute(
                q.CLAIM_DUE, [param(v) for v in q.claim_params(now, lease_until, limit)]
            )
            claimed = [q.submission_of(dict(row)) for row in await cursor.fetchall()]
        return sorted(claimed, key=lambda s: s.created_at)
