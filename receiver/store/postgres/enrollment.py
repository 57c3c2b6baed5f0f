"""PostgresEnrollment: claiming due ERA submissions on PostgreSQL (the rest of the enrollment
port is `store.enrollment`, written once)."""

from __future__ import annotations

from datetime import datetime

from receiver.enrollment.submissions import EraSubmission
from receiver.store import enrollment_sql as q
from receiver.store.postgres.base import PostgresBase
from receiver.store.sql import numbered

_CLAIM_DUE = numbered(q.CLAIM_DUE)


class PostgresEnrollment(PostgresBase):
    """The claim of due ERA submissions."""

    async def claim_due_era_submissions(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EraSubmission]:
        """One UPDATE ... RETURNING; see CLAIM_DUE for concurrent claimers."""
        rows = await self._fetch(_CLAIM_DUE, *q.claim_params(now, lease_until, limit))
        return sorted((q.submission_of(row) for row in rows), key=lambda s: s.created_at)
