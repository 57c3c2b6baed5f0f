"""The eligibility port written once over an adapter's `_rows`/`_write`/`_run`: batch
submissions, their batches' poll state and result counts (claiming due batches, a write that
returns rows, stays with each adapter as `_claim_due_batch_ids`)."""

from __future__ import annotations

from datetime import datetime

from receiver.eligibility.records import EligibilityBatch, EligibilitySubmission
from receiver.store import eligibility_sql as q
from receiver.store.sql import SqlCalls, Statement


class EligibilityRows(SqlCalls):
    """Batch eligibility submissions, poll state and result counts."""

    async def _claim_due_batch_ids(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[str]:
        """The adapter's CLAIM_DUE: the ids of the batches it moved on."""
        raise NotImplementedError

    async def add_eligibility_submission(
        self, submission: EligibilitySubmission, batches: list[EligibilityBatch]
    ) -> None:
        """One transaction."""
        await self._run(
            [
                Statement(q.INSERT_SUBMISSION, q.submission_params(submission)),
                *(Statement(q.INSERT_BATCH, q.batch_params(batch)) for batch in batches),
            ]
        )

    async def fetch_eligibility_submission(
        self, submission_id: str
    ) -> EligibilitySubmission | None:
        """By id."""
        found = await self._rows(q.SELECT_SUBMISSION, (submission_id,))
        return q.submission_of(found[0]) if found else None

    async def list_eligibility_batches(self, submission_id: str) -> list[EligibilityBatch]:
        """In submission order."""
        return [q.batch_of(row) for row in await self._rows(q.SELECT_BATCHES, (submission_id,))]

    async def fetch_eligibility_batch(self, batch_id: str) -> EligibilityBatch | None:
        """By Stedi batch id."""
        found = await self._rows(q.SELECT_BATCH, (batch_id,))
        return q.batch_of(found[0]) if found else None

    async def claim_due_eligibility_batches(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EligibilityBatch]:
        """Claimed by the adapter, then read with their stored-result counts, oldest first."""
        claimed = await self._claim_due_batch_ids(now=now, lease_until=lease_until, limit=limit)
        found = [await self.fetch_eligibility_batch(batch_id) for batch_id in claimed]
        return sorted((b for b in found if b is not None), key=lambda b: b.submitted_at)

    async def save_eligibility_poll(self, batch: EligibilityBatch) -> None:
        """Update by batch id."""
        await self._write(q.UPDATE_POLL, q.poll_params(batch))

    async def record_eligibility_result(
        self, *, batch_id: str, check_id: str, status: str, now: datetime
    ) -> bool:
        """Insert unless the check id is there."""
        return await self._write(q.INSERT_RESULT, (check_id, batch_id, status, now)) > 0

    async def count_eligibility_results(self, batch_id: str) -> dict[str, int]:
        """Grouped by status."""
        rows = await self._rows(q.COUNT_RESULTS, (batch_id,))
        return {str(row["status"]): int(row["n"]) for row in rows}
