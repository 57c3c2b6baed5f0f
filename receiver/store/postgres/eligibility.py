"""PostgresEligibility: the eligibility port on PostgreSQL (statements from `eligibility_sql`)."""

from __future__ import annotations

from datetime import UTC, datetime

from receiver.eligibility.records import EligibilityBatch, EligibilitySubmission
from receiver.store import eligibility_sql as q
from receiver.store.postgres.base import PostgresBase
from receiver.store.sql import numbered


def _time(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError("expected a timestamp")
    return value.astimezone(UTC)


_INSERT_SUBMISSION = numbered(q.INSERT_SUBMISSION)
_INSERT_BATCH = numbered(q.INSERT_BATCH)
_SELECT_SUBMISSION = numbered(q.SELECT_SUBMISSION)
_SELECT_BATCHES = numbered(q.SELECT_BATCHES)
_SELECT_BATCH = numbered(q.SELECT_BATCH)
_CLAIM_DUE = numbered(q.CLAIM_DUE)
_UPDATE_POLL = numbered(q.UPDATE_POLL)
_INSERT_RESULT = numbered(q.INSERT_RESULT)
_COUNT_RESULTS = numbered(q.COUNT_RESULTS)


class PostgresEligibility(PostgresBase):
    """Batch eligibility submissions, poll state and result counts."""

    async def add_eligibility_submission(
        self, submission: EligibilitySubmission, batches: list[EligibilityBatch]
    ) -> None:
        """One transaction."""
        async with self._transaction() as conn:
            await conn.execute(_INSERT_SUBMISSION, *q.submission_params(submission))
            for batch in batches:
                await conn.execute(_INSERT_BATCH, *q.batch_params(batch))

    async def fetch_eligibility_submission(
        self, submission_id: str
    ) -> EligibilitySubmission | None:
        """By id."""
        row = await self._fetchrow(_SELECT_SUBMISSION, submission_id)
        return q.submission_of(row, _time) if row else None

    async def list_eligibility_batches(self, submission_id: str) -> list[EligibilityBatch]:
        """In submission order."""
        rows = await self._fetch(_SELECT_BATCHES, submission_id)
        return [q.batch_of(row, _time) for row in rows]

    async def fetch_eligibility_batch(self, batch_id: str) -> EligibilityBatch | None:
        """By Stedi batch id."""
        row = await self._fetchrow(_SELECT_BATCH, batch_id)
        return q.batch_of(row, _time) if row else None

    async def claim_due_eligibility_batches(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EligibilityBatch]:
        """One UPDATE ... RETURNING; see CLAIM_DUE for concurrent claimers."""
        rows = await self._fetch(_CLAIM_DUE, *q.claim_params(now, lease_until, limit))
        found = [await self.fetch_eligibility_batch(str(row["batch_id"])) for row in rows]
        return sorted((b for b in found if b is not None), key=lambda b: b.submitted_at)

    async def save_eligibility_poll(self, batch: EligibilityBatch) -> None:
        """Update by batch id."""
        await self._execute(_UPDATE_POLL, *q.poll_params(batch))

    async def record_eligibility_result(
        self, *, batch_id: str, check_id: str, status: str, now: datetime
    ) -> bool:
        """Insert unless the check id is there."""
        return await self._execute(_INSERT_RESULT, check_id, batch_id, status, now) > 0

    async def count_eligibility_results(self, batch_id: str) -> dict[str, int]:
        """Grouped by status."""
        rows = await self._fetch(_COUNT_RESULTS, batch_id)
        return {str(row["status"]): int(row["n"]) for row in rows}
