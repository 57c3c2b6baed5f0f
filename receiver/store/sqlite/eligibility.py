"""SqliteEligibility: the eligibility port on SQLite (statements from `eligibility_sql`)."""

from __future__ import annotations

from datetime import datetime

from receiver.eligibility.records import EligibilityBatch, EligibilitySubmission
from receiver.store import eligibility_sql as q
from receiver.store.sqlite.base import SqliteBase, from_text, param


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else from_text(str(value))


def _params(values: tuple[object, ...]) -> list[object]:
    return [param(v) for v in values]


class SqliteEligibility(SqliteBase):
    """Batch eligibility submissions, poll state and result counts."""

    async def add_eligibility_submission(
        self, submission: EligibilitySubmission, batches: list[EligibilityBatch]
    ) -> None:
        """One transaction."""
        async with self._transaction() as conn:
            await conn.execute(q.INSERT_SUBMISSION, _params(q.submission_params(submission)))
            for batch in batches:
                await conn.execute(q.INSERT_BATCH, _params(q.batch_params(batch)))

    async def fetch_eligibility_submission(
        self, submission_id: str
    ) -> EligibilitySubmission | None:
        """By id."""
        row = await self._fetchone(q.SELECT_SUBMISSION, (submission_id,))
        return q.submission_of(row, _time) if row else None

    async def list_eligibility_batches(self, submission_id: str) -> list[EligibilityBatch]:
        """In submission order."""
        rows = await self._fetchall(q.SELECT_BATCHES, (submission_id,))
        return [q.batch_of(row, _time) for row in rows]

    async def fetch_eligibility_batch(self, batch_id: str) -> EligibilityBatch | None:
        """By Stedi batch id."""
        row = await self._fetchone(q.SELECT_BATCH, (batch_id,))
        return q.batch_of(row, _time) if row else None

    async def claim_due_eligibility_batches(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EligibilityBatch]:
        """The one writer serialises claimers; the write is taken only when a read saw a
        batch due (the poller asks every second, and SQLite has one writer)."""
        if await self._fetchone(q.ANY_DUE, (now,)) is None:
            return []
        async with self._transaction() as conn:
            cursor = await conn.execute(
                q.CLAIM_DUE, _params(q.claim_params(now, lease_until, limit))
            )
            claimed = [str(row["batch_id"]) for row in await cursor.fetchall()]
        found = [await self.fetch_eligibility_batch(batch_id) for batch_id in claimed]
        return sorted((b for b in found if b is not None), key=lambda b: b.submitted_at)

    async def save_eligibility_poll(self, batch: EligibilityBatch) -> None:
        """Update by batch id."""
        async with self._transaction() as conn:
            await conn.execute(q.UPDATE_POLL, _params(q.poll_params(batch)))

    async def record_eligibility_result(
        self, *, batch_id: str, check_id: str, status: str, now: datetime
    ) -> bool:
        """Insert unless the check id is there."""
        async with self._transaction() as conn:
            cursor = await conn.execute(q.INSERT_RESULT, _params((check_id, batch_id, status, now)))
            return cursor.rowcount > 0

    async def count_eligibility_results(self, batch_id: str) -> dict[str, int]:
        """Grouped by status."""
        rows = await self._fetchall(q.COUNT_RESULTS, (batch_id,))
        return {str(row["status"]): int(row["n"]) for row in rows}
