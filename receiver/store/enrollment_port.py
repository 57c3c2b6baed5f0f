"""The narrow store port the enrollment stage depends on: Optum connections, ERA
submissions with their poll state, and the records already submitted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from receiver.enrollment.submissions import EraSubmission, LiveRecord, StoredConnection
from receiver.models import InboundEvent, RecordResult


class EnrollmentStore(Protocol):
    """Optum connections and ERA enrollment submissions."""

    async def add_optum_connection(self, stored: StoredConnection) -> None:
        """Store a new connection; ConflictError if the name is taken."""

    async def update_optum_connection(self, stored: StoredConnection) -> bool:
        """Replace a connection's tenant, credentials and options; False if it is gone."""

    async def fetch_optum_connection(self, name: str) -> StoredConnection | None:
        """A connection by name."""

    async def list_optum_connections(self) -> list[StoredConnection]:
        """Every connection, by name."""

    async def remove_optum_connection(self, name: str) -> bool:
        """Delete a connection; False if there was none."""

    async def find_live_records(self, fingerprints: Sequence[str]) -> list[LiveRecord]:
        """The pending or accepted records with any of these fingerprints."""

    async def add_era_submission(
        self, submission: EraSubmission, fingerprints: Sequence[str]
    ) -> None:
        """Store a submission and its records (pending, by position) in one transaction;
        ConflictError if a record is already pending or accepted elsewhere."""

    async def fetch_era_submission(self, submission_id: str) -> EraSubmission | None:
        """A submission by its local id."""

    async def save_era_submission(self, submission: EraSubmission) -> None:
        """Store a submission's status, payloadId, poll state and result."""

    async def settle_era_records(
        self, submission_id: str, *, rejected: frozenset[str] | None
    ) -> None:
        """After a result: the records whose fingerprint is in `rejected` are rejected and
        the others accepted; with `rejected` None, every record is released (may go again)."""

    async def claim_due_era_submissions(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EraSubmission]:
        """Up to `limit` polling submissions due at `now`, each moved to `next_poll_at =
        lease_until` so no other poller takes it meanwhile. Concurrent claimers never get
        the same one."""


class EnrollmentStageStore(EnrollmentStore, Protocol):
    """What the enrollment stage uses: its port, plus recording events and poll cursors."""

    async def record_inbound(self, event: InboundEvent, job_kind: str | None) -> RecordResult:
        """See Store.record_inbound."""

    async def fetch_poll_cursor(self, name: str) -> str | None:
        """See Store.fetch_poll_cursor."""

    async def save_poll_cursor(self, name: str, value: str, now: datetime) -> None:
        """See Store.save_poll_cursor."""
