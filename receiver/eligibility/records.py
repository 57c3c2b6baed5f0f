"""The stored records of batch eligibility: a submission and its Stedi batches' poll state."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class BatchStatus(enum.StrEnum):
    """Where a Stedi batch is in receiver's polling."""

    POLLING = "polling"
    COMPLETED = "completed"
    GIVEN_UP = "given_up"


class Origin(enum.StrEnum):
    """How a submission came to receiver."""

    API = "api"  # POST /eligibility/batches
    CLI = "cli"  # receiver eligibility submit
    FOLLOW = "follow"  # receiver eligibility follow: submitted by another system


@dataclass(frozen=True, slots=True)
class EligibilitySubmission:
    """What one caller submitted (`elb_` id): `item_count` checks for `account`."""

    id: str
    account: str
    origin: Origin
    item_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EligibilityBatch:
    """One Stedi batch of a submission (the `position`-th), with its persisted poll state
    (the fields of `receiver.eligibility.polling.PollState`) and `stored_results`, the
    distinct item results stored so far (read back, never written)."""

    batch_id: str
    submission_id: str
    account: str
    position: int
    item_count: int
    submitted_at: datetime
    max_retry_hours: int
    next_poll_at: datetime
    status: BatchStatus = BatchStatus.POLLING
    attempts: int = 0
    pages_seen: int = 0
    next_page_token: str | None = None
    last_polled_at: datetime | None = None
    reason: str | None = None
    completed_at: datetime | None = None
    stored_results: int = 0
