"""PostgresEnrollment: the enrollment port on PostgreSQL (statements from `enrollment_sql`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from receiver.enrollment.submissions import (
    EraSubmission,
    LiveRecord,
    RecordState,
    StoredConnection,
)
from receiver.store import enrollment_sql as q
from receiver.store.postgres.base import PostgresBase


def _time(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError("expected a timestamp")
    return value.astimezone(UTC)


_INSERT_CONNECTION = q.to_postgres(q.INSERT_CONNECTION)
_UPDATE_CONNECTION = q.to_postgres(q.UPDATE_CONNECTION)
_SELECT_CONNECTION = q.to_postgres(q.SELECT_CONNECTION)
_DELETE_CONNECTION = q.to_postgres(q.DELETE_CONNECTION)
_INSERT_SUBMISSION = q.to_postgres(q.INSERT_SUBMISSION)
_INSERT_RECORD = q.to_postgres(q.INSERT_RECORD)
_SELECT_SUBMISSION = q.to_postgres(q.SELECT_SUBMISSION)
_UPDATE_SUBMISSION = q.to_postgres(q.UPDATE_SUBMISSION)
_SELECT_LIVE_RECORD = q.to_postgres(q.SELECT_LIVE_RECORD)
_SET_RECORD_STATES = q.to_postgres(q.SET_RECORD_STATES)
_SET_RECORD_STATE = q.to_postgres(q.SET_RECORD_STATE)
_CLAIM_DUE = q.to_postgres(q.CLAIM_DUE)


class PostgresEnrollment(PostgresBase):
    """Optum connections, ERA submissions and their records."""

    async def add_optum_connection(self, stored: StoredConnection) -> None:
        """Insert; the primary key refuses a taken name."""
        await self._execute(_INSERT_CONNECTION, *q.connection_params(stored))

    async def update_optum_connection(self, stored: StoredConnection) -> bool:
        """Update by name."""
        return await self._execute(_UPDATE_CONNECTION, *q.connection_update_params(stored)) > 0

    async def fetch_optum_connection(self, name: str) -> StoredConnection | None:
        """By name."""
        row = await self._fetchrow(_SELECT_CONNECTION, name)
        return q.connection_of(row, _time) if row else None

    async def list_optum_connections(self) -> list[StoredConnection]:
        """By name."""
        return [q.connection_of(row, _time) for row in await self._fetch(q.SELECT_CONNECTIONS)]

    async def remove_optum_connection(self, name: str) -> bool:
        """Delete by name."""
        return await self._execute(_DELETE_CONNECTION, name) > 0

    async def find_live_records(self, fingerprints: Sequence[str]) -> list[LiveRecord]:
        """One indexed lookup per fingerprint."""
        found: list[LiveRecord] = []
        for fingerprint in dict.fromkeys(fingerprints):
            row = await self._fetchrow(_SELECT_LIVE_RECORD, fingerprint)
            if row:
                found.append(q.live_record_of(row))
        return found

    async def add_era_submission(
        self, submission: EraSubmission, fingerprints: Sequence[str]
    ) -> None:
        """One transaction; the partial unique index refuses a live record."""
        async with self._transaction() as conn:
            await conn.execute(_INSERT_SUBMISSION, *q.submission_params(submission))
            for position, fingerprint in enumerate(fingerprints):
                await conn.execute(
                    _INSERT_RECORD, submission.id, position, fingerprint, RecordState.PENDING.value
                )

    async def fetch_era_submission(self, submission_id: str) -> EraSubmission | None:
        """By local id."""
        row = await self._fetchrow(_SELECT_SUBMISSION, submission_id)
        return q.submission_of(row, _time) if row else None

    async def save_era_submission(self, submission: EraSubmission) -> None:
        """Update by id."""
        await self._execute(_UPDATE_SUBMISSION, *q.submission_update_params(submission))

    async def settle_era_records(
        self, submission_id: str, *, rejected: frozenset[str] | None
    ) -> None:
        """One transaction."""
        async with self._transaction() as conn:
            if rejected is None:
                await conn.execute(_SET_RECORD_STATES, RecordState.RELEASED.value, submission_id)
                return
            await conn.execute(_SET_RECORD_STATES, RecordState.ACCEPTED.value, submission_id)
            for fingerprint in sorted(rejected):
                await conn.execute(
                    _SET_RECORD_STATE, RecordState.REJECTED.value, submission_id, fingerprint
                )

    async def claim_due_era_submissions(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EraSubmission]:
        """One UPDATE ... RETURNING; see CLAIM_DUE for concurrent claimers."""
        rows = await self._fetch(_CLAIM_DUE, *q.claim_params(now, lease_until, limit))
        found = [await self.fetch_era_submission(str(row["id"])) for row in rows]
        return sorted((s for s in found if s is not None), key=lambda s: s.created_at)
