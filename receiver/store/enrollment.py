"""The enrollment port written once over an adapter's `_rows`/`_write`/`_run`: Optum
connections, ERA submissions and their once-only records (claiming due submissions, a write
that returns rows, stays with each adapter)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from receiver.enrollment.submissions import (
    EraSubmission,
    LiveRecord,
    RecordState,
    StoredConnection,
    SubmissionStatus,
)
from receiver.store import enrollment_sql as q
from receiver.store.sql import SqlCalls, Statement


class EnrollmentRows(SqlCalls):
    """Optum connections, ERA submissions and their records."""

    async def add_optum_connection(self, stored: StoredConnection) -> None:
        """Insert; the primary key refuses a taken name (ConflictError)."""
        await self._write(q.INSERT_CONNECTION, q.connection_params(stored))

    async def update_optum_connection(self, stored: StoredConnection) -> bool:
        """Update by name."""
        return await self._write(q.UPDATE_CONNECTION, q.connection_update_params(stored)) > 0

    async def fetch_optum_connection(self, name: str) -> StoredConnection | None:
        """By name."""
        found = await self._rows(q.SELECT_CONNECTION, (name,))
        return q.connection_of(found[0]) if found else None

    async def list_optum_connections(self) -> list[StoredConnection]:
        """By name."""
        return [q.connection_of(row) for row in await self._rows(q.SELECT_CONNECTIONS)]

    async def remove_optum_connection(self, name: str) -> bool:
        """Delete by name."""
        return await self._write(q.DELETE_CONNECTION, (name,)) > 0

    async def find_live_records(self, fingerprints: Sequence[str]) -> list[LiveRecord]:
        """One indexed lookup per fingerprint."""
        found: list[LiveRecord] = []
        for fingerprint in dict.fromkeys(fingerprints):
            rows = await self._rows(q.SELECT_LIVE_RECORD, (fingerprint,))
            found.extend(q.live_record_of(row) for row in rows[:1])
        return found

    async def add_era_submission(
        self, submission: EraSubmission, fingerprints: Sequence[str]
    ) -> None:
        """One transaction; the partial unique index refuses a live record (ConflictError)."""
        pending = RecordState.PENDING.value
        await self._run(
            [
                Statement(q.INSERT_SUBMISSION, q.submission_params(submission)),
                *(
                    Statement(q.INSERT_RECORD, (submission.id, position, fingerprint, pending))
                    for position, fingerprint in enumerate(fingerprints)
                ),
            ]
        )

    async def fetch_era_submission(self, submission_id: str) -> EraSubmission | None:
        """By local id."""
        found = await self._rows(q.SELECT_SUBMISSION, (submission_id,))
        return q.submission_of(found[0]) if found else None

    async def save_era_submission(self, submission: EraSubmission) -> None:
        """Update by id."""
        await self._write(q.UPDATE_SUBMISSION, q.submission_update_params(submission))

    async def settle_era_records(
        self, submission_id: str, *, rejected: frozenset[str] | None
    ) -> None:
        """One transaction."""
        if rejected is None:
            await self._write(q.SET_RECORD_STATES, (RecordState.RELEASED.value, submission_id))
            return
        await self._run(
            [
                Statement(q.SET_RECORD_STATES, (RecordState.ACCEPTED.value, submission_id)),
                *(
                    Statement(q.SET_RECORD_STATE, (RecordState.REJECTED.value, submission_id, fp))
                    for fp in sorted(rejected)
                ),
            ]
        )

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
