"""The narrow store port the eligibility stage depends on: submissions, batches, results."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from receiver.eligibility.records import EligibilityBatch, EligibilitySubmission
from receiver.models import Account, InboundEvent, RecordResult


class EligibilityStore(Protocol):
    """Batch eligibility state: what was submitted, each batch's poll state, results seen."""

    async def add_eligibility_submission(
        self, submission: EligibilitySubmission, batches: list[EligibilityBatch]
    ) -> None:
        """Store a submission with its batches in one transaction; ConflictError if the id or
        a batch id is taken."""

    async def fetch_eligibility_submission(
        self, submission_id: str
    ) -> EligibilitySubmission | None:
        """A submission by its id."""

    async def list_eligibility_batches(self, submission_id: str) -> list[EligibilityBatch]:
        """A submission's batches, in submission order, with their stored result counts."""

    async def fetch_eligibility_batch(self, batch_id: str) -> EligibilityBatch | None:
        """A batch by its Stedi id, with its stored result count."""

    async def claim_due_eligibility_batches(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EligibilityBatch]:
        """Up to `limit` polling batches due at `now` (`next_poll_at <= now`), soonest first,
        each moved to `next_poll_at = lease_until` so no other poller takes it meanwhile (a
        poller that dies leaves it due again then). Concurrent claimers never get the same."""

    async def save_eligibility_poll(self, batch: EligibilityBatch) -> None:
        """Store a batch's poll state (status, attempts, pages, token, times, reason)."""

    async def record_eligibility_result(
        self, *, batch_id: str, check_id: str, status: str, now: datetime
    ) -> bool:
        """Count one item result of a batch under its `ec_` id, once: False if already there."""

    async def count_eligibility_results(self, batch_id: str) -> dict[str, int]:
        """A batch's stored results by coverage status (statuses with none are absent)."""


class EligibilityStageStore(EligibilityStore, Protocol):
    """What the eligibility stage uses beyond its own port: accounts (their Stedi keys) and
    the inbox its results are recorded in (so the worker publishes them)."""

    async def fetch_account(self, name: str) -> Account | None:
        """An account by its local name."""

    async def record_inbound(self, event: InboundEvent, job_kind: str | None) -> RecordResult:
        """Store the event and its job in one transaction, unless a dedup key is taken."""
