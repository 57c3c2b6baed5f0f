"""PostgresEligibility: claiming due eligibility batches on PostgreSQL (the rest of the
eligibility port is `store.eligibility`, written once)."""

from __future__ import annotations

from datetime import datetime

from receiver.store import eligibility_sql as q
from receiver.store.postgres.base import PostgresBase
from receiver.store.sql import numbered

_CLAIM_DUE = numbered(q.CLAIM_DUE)


class PostgresEligibility(PostgresBase):
    """The claim of due eligibility batches."""

    async def _claim_due_batch_ids(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[str]:
        """One UPDATE ... RETURNING; see CLAIM_DUE for concurrent claimers."""
        rows = await self._fetch(_CLAIM_DUE, *q.claim_params(now, lease_until, limit))
        return [str(row["batch_id"]) for row in rows]
