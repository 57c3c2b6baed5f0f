"""SqliteEnrollment: the enrollment port on SQLite (statements from `enrollment_sql`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from receiver.enrollment.submissions import (
    EraSubmission,
    LiveRecord,
    RecordState,
    StoredConnection,
)
from receiver.store import enrollment_sql as q
from receiver.store.sqlite.base import SqliteBase, from_text, param


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else from_text(str(value))


def _params(values: tuple[object, ...]) -> list[object]:
    return [param(v) for v in values]


class SqliteEnrollment(SqliteBase):
    """Optum connections, ERA submissions and their records."""

    async def add_optum_connection(self, stored: StoredConnection) -> None:
        """Insert; the primary key refuses a taken name."""
        async with self._transaction() as conn:
            await conn.execute(q.INSERT_CONNECTION, _params(q.connection_params(stored)))

    async def update_optum_connection(self, stored: StoredConnection) -> bool:
        """Update by name."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                q.UPDATE_CONNECTION, _params(q.connection_update_params(stored))
            )
            return cursor.rowcount > 0

    async def fetch_optum_connection(self, name: str) -> StoredConnection | None:
        """By name."""
        row = await self._fetchone(q.SELECT_CONNECTION, (name,))
        return q.connection_of(row, _time) if row else None

    async def list_optum_connections(self) -> list[StoredConnection]:
        """By name."""
        return [q.connection_of(row, _time) for row in await self._fetchall(q.SELECT_CONNECTIONS)]

    async def remove_optum_connection(self, name: str) -> bool:
        """Delete by name."""
        async with self._transaction() as conn:
            cursor = await conn.execute(q.DELETE_CONNECTION, (name,))
            return cursor.rowcount > 0

    async def find_live_records(self, fingerprints: Sequence[str]) -> list[LiveRecord]:
        """One indexed lookup per fingerprint."""
        found: list[LiveRecord] = []
        for fingerprint in dict.fromkeys(fingerprints):
            row = await self._fetchone(q.SELECT_LIVE_RECORD, (fingerprint,))
            if row:
                found.append(q.live_record_of(row))
        return found

    async def add_era_submission(
        self, submission: EraSubmission, fingerprints: Sequence[str]
    ) -> None:
        """One transaction; the partial unique index refuses a live record."""
        async with self._transaction() as conn:
            await conn.execute(q.INSERT_SUBMISSION, _params(q.submission_params(submission)))
            for position, fingerprint in enumerate(fingerprints):
                await conn.execute(
                    q.INSERT_RECORD,
                    (submission.id, position, fingerprint, RecordState.PENDING.value),
                )

    async def fetch_era_submission(self, submission_id: str) -> EraSubmission | None:
        """By local id."""
        row = await self._fetchone(q.SELECT_SUBMISSION, (submission_id,))
        return q.submission_of(row, _time) if row else None

    async def save_era_submission(self, submission: EraSubmission) -> None:
        """Update by id."""
        async with self._transaction() as conn:
            await conn.execute(q.UPDATE_SUBMISSION, _params(q.submission_update_params(submission)))

    async def settle_era_records(
        self, submission_id: str, *, rejected: frozenset[str] | None
    ) -> None:
        """One transaction."""
        async with self._transaction() as conn:
            if rejected is None:
                await conn.execute(q.SET_RECORD_STATES, (RecordState.RELEASED.value, submission_id))
                return
            await conn.execute(q.SET_RECORD_STATES, (RecordState.ACCEPTED.value, submission_id))
            for fingerprint in sorted(rejected):
                await conn.execute(
                    q.SET_RECORD_STATE, (RecordState.REJECTED.value, submission_id, fingerprint)
                )

    async def claim_due_era_submissions(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EraSubmission]:
        """The write is taken only when a read saw a submission due (SQLite has one
        writer, and the poller asks every second)."""
        if await self._fetchone(q.ANY_DUE, (param(now),)) is None:
            return []
        async with self._transaction() as conn:
            cursor = await conn.execute(
                q.CLAIM_DUE, _params(q.claim_params(now, lease_until, limit))
            )
            claimed = [str(row["id"]) for row in await cursor.fetchall()]
        found = [await self.fetch_era_submission(submission_id) for submission_id in claimed]
        return sorted((s for s in found if s is not None), key=lambda s: s.created_at)
