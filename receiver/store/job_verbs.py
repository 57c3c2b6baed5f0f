"""complete_job, retry_job and kill_job, written once for both adapters over `_finish_job`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from receiver.models import EventStatus, JobResult, JobStatus
from receiver.store.base import truncate_error


class FinishJobVerbs:
    """The three ways a leased job ends, each a set of column assignments that the adapter's
    `_finish_job` applies to the job only if it is still running under exactly that lease.
    An adapter supplies `_finish_job` and `_mark(n)`, the placeholder of the n-th parameter
    of the assignments."""

    def _mark(self, n: int) -> str:
        raise NotImplementedError

    async def _finish_job(
        self,
        job_id: str,
        lease_until: datetime,
        assignments: str,
        params: Sequence[object],
        event_status: EventStatus | None,
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
        m = self._mark
        return await self._finish_job(
            job_id,
            lease_until,
            f"status = {m(1)}, attempts = attempts + 1, lease_until = NULL, last_error = NULL, "
            f"updated_at = {m(2)}",
            (JobStatus.DONE.value, now),
            EventStatus.PROCESSED,
            result,
            now,
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
        m = self._mark
        return await self._finish_job(
            job_id,
            lease_until,
            f"status = {m(1)}, attempts = attempts + 1, lease_until = NULL, last_error = {m(2)}, "
            f"next_attempt_at = {m(3)}, updated_at = {m(4)}",
            (JobStatus.PENDING.value, truncate_error(error), next_attempt_at, now),
            None,
        )

    async def kill_job(
        self, job_id: str, *, now: datetime, lease_until: datetime, error: str
    ) -> bool:
        """Dead, attempts + 1, event failed; guarded by the lease."""
        m = self._mark
        return await self._finish_job(
            job_id,
            lease_until,
            f"status = {m(1)}, attempts = attempts + 1, lease_until = NULL, last_error = {m(2)}, "
            f"updated_at = {m(3)}",
            (JobStatus.DEAD.value, truncate_error(error), now),
            EventStatus.FAILED,
        )
