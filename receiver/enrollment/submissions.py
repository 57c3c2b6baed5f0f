"""ERA enrollment submissions as stored (their poll state and result) and Optum connections
with the options receiver keeps beside them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from receiver.upstream.optum import OptumConnection


class SubmissionStatus(enum.StrEnum):
    """Where a local submission stands.

    `submitting`: stored, not yet answered by Optum; `polling`: Optum gave a payloadId;
    `complete` / `errored`: Optum's result is stored and published; `dead`: given up (the
    reason says why); `failed`: Optum refused the submission; `unknown`: Optum may have
    accepted it although no answer said so (its records stay reserved)."""

    SUBMITTING = "submitting"
    POLLING = "polling"
    COMPLETE = "complete"
    ERRORED = "errored"
    DEAD = "dead"
    FAILED = "failed"
    UNKNOWN = "unknown"


class RecordState(enum.StrEnum):
    """A submitted record's standing: `pending` and `accepted` records may not be sent again;
    `rejected` and `released` ones may."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RELEASED = "released"


LIVE_STATES = (RecordState.PENDING, RecordState.ACCEPTED)


@dataclass(frozen=True, slots=True)
class StoredConnection:
    """An Optum connection with when it was added and whether receiver polls its Coverage
    Discovery task list for callbacks that never came."""

    connection: OptumConnection
    created_at: datetime
    discover_missed: bool = False

    @property
    def name(self) -> str:
        """The connection's local name."""
        return self.connection.name


@dataclass(frozen=True, slots=True)
class LiveRecord:
    """A record already submitted that may not be submitted again."""

    fingerprint: str
    submission_id: str
    position: int
    state: RecordState


@dataclass(frozen=True, slots=True)
class EraSubmission:
    """One local submission: its records' count, Optum's payloadId and the poll state."""

    id: str
    connection: str
    record_count: int
    created_at: datetime
    status: SubmissionStatus
    payload_id: str | None = None
    attempts: int = 0
    not_found_streak: int = 0
    first_poll_at: datetime | None = None
    next_poll_at: datetime | None = None
    last_polled_at: datetime | None = None
    reason: str | None = None
    trace_id: str | None = None
    result: dict[str, object] | None = field(default=None, compare=False)
    completed_at: datetime | None = None


RELEASABLE_AFTER = timedelta(minutes=10)
"""How long a submission may stay `submitting` before its answer counts as lost: far beyond
any call to Optum's submit endpoint (its timeouts are seconds)."""


def release_refusal(submission: EraSubmission, now: datetime) -> str | None:
    """Why `submission`'s records may not be released for resubmission, or None if they may:
    only a submission whose Optum answer was lost (`unknown`, or `submitting` for longer than
    RELEASABLE_AFTER, its process gone) still holds records nobody else settles."""
    if submission.status is SubmissionStatus.UNKNOWN:
        return None
    if submission.status is SubmissionStatus.SUBMITTING:
        if now - submission.created_at >= RELEASABLE_AFTER:
            return None
        return (
            f"submission {submission.id} is being submitted (started at "
            f"{submission.created_at.isoformat()}); a submission still submitting after "
            f"{int(RELEASABLE_AFTER.total_seconds() // 60)} minutes can be released"
        )
    return (
        f"submission {submission.id} is {submission.status.value}: only one whose Optum answer "
        "was lost (unknown, or submitting for 10 minutes) can be released"
    )
