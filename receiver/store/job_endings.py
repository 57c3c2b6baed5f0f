"""A job's three guarded endings (done, retry, dead), written once over an adapter's
`_finish_job`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from receiver.models import JobResult
from receiver.store import job_sql
from receiver.store.sql import Statement


class JobEndings:
    """complete_job, retry_job and kill_job; each adapter runs the statements (and stores a
    result) in one transaction of its own in `_finish_job`."""

    async def _finish_job(
        self,
        job_id: str,
        statements: Sequence[Statement],
        result: JobResult | None = None,
        now: datetime | None = None,
    ) -> bool:
        raise NotImplementedError

    async def complete_job(
        self,
        job_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        result: JobResult | None = None,
    ) -> bool:
        """Done, attempts + 1, event processed, `result` stored; guarded by the lease."""
        return await self._finish_job(
            job_id, job_sql.complete(job_id, now=now, lease_until=lease_until), result, now
        )

    async def retry_job(
        self,
        job_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        next_attempt_at: datetime,
        error: str,
    ) -> bool:
        """Pending again at `next_attempt_at`, attempts + 1; guarded by the lease."""
        return await self._finish_job(
            job_id,
            job_sql.retry(
                job_id,
                now=now,
                lease_until=lease_until,
                next_attempt_at=next_attempt_at,
                error=error,
            ),
        )

    async def kill_job(
        self, job_id: str, *, now: datetime, lease_until: datetime, error: str
    ) -> bool:
        """Dead, attempts + 1, event failed; guarded by the lease."""
        return await self._finish_job(
            job_id, job_sql.kill(job_id, now=now, lease_until=lease_until, error=error)
        )
