"""Audit rows as values: one entry per ops action or PHI read, and the filter of a listing."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class AuditAction(enum.StrEnum):
    """What an audit row records: an ops action, or a read of PHI over the API."""

    DELIVERY_RETRY = "delivery.retry"
    EVENT_REDELIVER = "event.redeliver"
    EVENT_REPROCESS = "event.reprocess"
    JOBS_REPROCESS = "jobs.reprocess"
    REPLAY = "replay"
    JOB_RETRY = "job.retry"
    SUBSCRIPTION_CREATE = "subscription.create"
    SUBSCRIPTION_REMOVE = "subscription.remove"
    SUBSCRIPTION_ROTATE = "subscription.rotate"
    SUBSCRIPTION_ENABLE = "subscription.enable"
    CLIENT_CREATE = "client.create"
    CLIENT_ROTATE = "client.rotate"
    CLIENT_REVOKE = "client.revoke"
    ACCOUNT_ADD = "account.add"
    ACCOUNT_ROTATE = "account.rotate"
    ACCOUNT_REMOVE = "account.remove"
    PURGE = "purge"
    EVENT_READ = "event.read"
    CLAIM_READ = "claim.read"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a client id over the API, `cli:<os user>` from the command line; and the
    request id the action ran under (the CLI makes one per command)."""

    who: str
    request_id: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One append-only audit row: `filter` holds what selected the targets (ids, times and
    statuses only), `counts` how many were touched."""

    id: str
    created_at: datetime
    actor: str
    action: str
    target: str | None
    request_id: str
    filter: dict[str, object] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit rows a listing returns: exact actor and action, [since, until)."""

    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
