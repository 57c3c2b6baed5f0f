"""The release of an ERA enrollment submission whose Optum answer was lost, written once over
an adapter's `_run`: the submission marked dead and its pending records free to go again."""

from __future__ import annotations

from datetime import datetime

from receiver.enrollment.submissions import SubmissionStatus
from receiver.store import enrollment_sql as q
from receiver.store.sql import SqlCalls, Statement


class EraRelease(SqlCalls):
    """`release_era_submission` over `_run`."""

    async def release_era_submission(
        self, submission_id: str, *, was: SubmissionStatus, reason: str, now: datetime
    ) -> bool:
        """One guarded write: only if the submission is still `was`."""
        return await self._run(
            [
                Statement(q.RELEASE_SUBMISSION, (reason, now, submission_id, was.value), True),
                Statement(q.RELEASE_RECORDS, (submission_id,)),
            ]
        )
