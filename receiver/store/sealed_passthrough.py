"""The Store verbs whose values carry nothing sealed, passed through SealedStore unchanged:
the audit trail (ids, actions, counts), reprocess and retention (ids and times), the polled
stages' bookkeeping (batch and submission state, fingerprints; their results and payloads are
events, sealed through `record_inbound`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from receiver.eligibility.records import EligibilityBatch, EligibilitySubmission
from receiver.enrollment.submissions import EraSubmission, LiveRecord, SubmissionStatus
from receiver.models import (
    AuditEntry,
    AuditFilter,
    Page,
)
from receiver.store.base import Store
from receiver.store.reprocess_sql import DeadJobFilter
from receiver.store.retention_sql import PurgeCounts


class PassThrough:
    """Delegation to `inner` for the verbs with nothing to seal."""

    inner: Store

    # -- AuditTrail ----------------------------------------------------------
    async def list_audit(
        self, flt: AuditFilter, *, limit: int, cursor: str | None
    ) -> Page[AuditEntry]:
        """Delegated: nothing in it is sealed."""
        return await self.inner.list_audit(flt, limit=limit, cursor=cursor)

    # -- ReprocessQueue ----------------------------------------------------------
    async def queue_reprocess(self, event_id: str, *, now: datetime) -> bool:
        """Delegated: nothing in it is sealed."""
        return await self.inner.queue_reprocess(event_id, now=now)

    async def dead_job_ids(self, flt: DeadJobFilter) -> list[str]:
        """Delegated: nothing in it is sealed."""
        return await self.inner.dead_job_ids(flt)

    async def revive_dead_jobs(self, job_ids: Sequence[str], *, now: datetime) -> int:
        """Delegated: nothing in it is sealed."""
        return await self.inner.revive_dead_jobs(job_ids, now=now)

    # -- Retention ----------------------------------------------------------
    async def purge_bodies(
        self, *, before: datetime, now: datetime, batch: int, dry_run: bool
    ) -> PurgeCounts:
        """Delegated: nothing in it is sealed."""
        return await self.inner.purge_bodies(before=before, now=now, batch=batch, dry_run=dry_run)

    async def reclaim_space(self, *, convert: bool) -> int:
        """Delegated: nothing in it is sealed."""
        return await self.inner.reclaim_space(convert=convert)

    # -- EligibilityStore ----------------------------------------------------------
    async def add_eligibility_submission(
        self, submission: EligibilitySubmission, batches: list[EligibilityBatch]
    ) -> None:
        """Delegated: nothing in it is sealed."""
        return await self.inner.add_eligibility_submission(submission, batches)

    async def fetch_eligibility_submission(
        self, submission_id: str
    ) -> EligibilitySubmission | None:
        """Delegated: nothing in it is sealed."""
        return await self.inner.fetch_eligibility_submission(submission_id)

    async def list_eligibility_batches(self, submission_id: str) -> list[EligibilityBatch]:
        """Delegated: nothing in it is sealed."""
        return await self.inner.list_eligibility_batches(submission_id)

    async def fetch_eligibility_batch(self, batch_id: str) -> EligibilityBatch | None:
        """Delegated: nothing in it is sealed."""
        return await self.inner.fetch_eligibility_batch(batch_id)

    async def claim_due_eligibility_batches(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EligibilityBatch]:
        """Delegated: nothing in it is sealed."""
        return await self.inner.claim_due_eligibility_batches(
            now=now, lease_until=lease_until, limit=limit
        )

    async def save_eligibility_poll(self, batch: EligibilityBatch) -> None:
        """Delegated: nothing in it is sealed."""
        return await self.inner.save_eligibility_poll(batch)

    async def record_eligibility_result(
        self, *, batch_id: str, check_id: str, status: str, now: datetime
    ) -> bool:
        """Delegated: nothing in it is sealed."""
        return await self.inner.record_eligibility_result(
            batch_id=batch_id, check_id=check_id, status=status, now=now
        )

    async def count_eligibility_results(self, batch_id: str) -> dict[str, int]:
        """Delegated: nothing in it is sealed."""
        return await self.inner.count_eligibility_results(batch_id)

    # -- EnrollmentStore ----------------------------------------------------------
    async def remove_optum_connection(self, name: str) -> bool:
        """Delegated: nothing in it is sealed."""
        return await self.inner.remove_optum_connection(name)

    async def find_live_records(self, fingerprints: Sequence[str]) -> list[LiveRecord]:
        """Delegated: nothing in it is sealed."""
        return await self.inner.find_live_records(fingerprints)

    async def add_era_submission(
        self, submission: EraSubmission, fingerprints: Sequence[str]
    ) -> None:
        """Delegated: nothing in it is sealed."""
        return await self.inner.add_era_submission(submission, fingerprints)

    async def settle_era_records(
        self, submission_id: str, *, rejected: frozenset[str] | None
    ) -> None:
        """Delegated: nothing in it is sealed."""
        return await self.inner.settle_era_records(submission_id, rejected=rejected)

    async def release_era_submission(
        self, submission_id: str, *, was: SubmissionStatus, reason: str, now: datetime
    ) -> bool:
        """Delegated: nothing in it is sealed (the reason names no PHI)."""
        return await self.inner.release_era_submission(
            submission_id, was=was, reason=reason, now=now
        )
