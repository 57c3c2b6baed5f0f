"""Frozen value types shared by every layer: events, jobs, clients, accounts, pages."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


class Source(enum.StrEnum):
    """Where an inbound event came from."""

    STEDI = "stedi"
    STEDI_DESTINATION = "stedi-destination"
    OPTUM = "optum"


class JobStatus(enum.StrEnum):
    """Life cycle of a follow-up job."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class EventStatus(enum.StrEnum):
    """Life cycle of an inbound event, as its follow-up job advances."""

    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A verified inbound event, ready to be stored with its follow-up job.

    `dedup_keys` are the keys under which a resend of the same event is recognised; any one
    of them already stored makes the event a duplicate.
    """

    id: str
    source: Source
    type: str
    account: str | None
    external_id: str
    dedup_keys: tuple[str, ...]
    body: bytes
    headers: dict[str, str]
    received_at: datetime
    transaction_id: str | None = None
    transaction_set: str | None = None
    direction: str | None = None
    summary: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What `Store.record_inbound` did: stored a new event, or found it already stored."""

    event_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An inbound event as read back from the store."""

    id: str
    source: str
    type: str
    account: str | None
    external_id: str
    status: str
    received_at: datetime
    transaction_id: str | None
    transaction_set: str | None
    direction: str | None
    summary: dict[str, object]
    headers: dict[str, str]
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A unit of follow-up work owned by one inbound event."""

    id: str
    event_id: str
    kind: str
    status: str
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Filters for listing events; every field is optional."""

    source: str | None = None
    type: str | None = None
    account: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """A document fetched for an event (277CA or 835 JSON, 837 X12), kept as its exact bytes;
    stored once per (account, transaction, kind, revision), by the first event to store it.

    `revision` is 0 for the first version of the document; a reprocess that fetched different
    bytes (a corrected report) stores them as the next revision beside the earlier ones."""

    kind: str
    transaction_id: str
    body: bytes
    content_type: str = "application/json"
    revision: int = 0


@dataclass(frozen=True, slots=True)
class ClaimEntry:
    """One claim's line in a timeline: what one event said about one patient control number.

    `kind` is "submitted" (837), "acknowledgment" (277CA) or "remittance" (835); `data` holds
    the per-claim summary (codes, amounts as strings, payer numbers). `document_kind` names
    the document of the same result it was read from: the entry is stored only with that
    document, so a transaction's entries are stored once, with its documents."""

    patient_control_number: str
    kind: str
    data: dict[str, object]
    document_kind: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message to publish to subscribers, written in the transaction that finishes a job
    (transactional outbox). Its id follows from what it describes (`message_id`): one per
    fact, type and version of the report it was read from, however often the job runs and
    however many events told of it; the id is the store's dedup."""

    id: str
    type: str
    account: str | None
    data: dict[str, object]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a finished job stores alongside marking itself done."""

    documents: tuple[Document, ...] = ()
    claims: tuple[ClaimEntry, ...] = ()
    messages: tuple[OutboundMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """A ClaimEntry as read back, with the event it came from."""

    patient_control_number: str
    kind: str
    data: dict[str, object]
    event_id: str
    transaction_id: str | None
    received_at: datetime
    revision: int = 0  # the revision of the document it was read from (0: the first)


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Filters for listing jobs."""

    status: str | None = None
    kind: str | None = None
    event_id: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a newest-first listing; `next_cursor` is None on the last page."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Client:
    """An OAuth2 client allowed to take tokens from our token endpoint.

    Secrets are kept only as SHA-256 hashes; `previous_secret_hash` stays valid until
    `previous_expires_at` after a rotation.
    """

    client_id: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    created_at: datetime
    previous_secret_hash: str | None = None
    previous_expires_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """True while the client has not been revoked."""
        return self.revoked_at is None


class CredentialKind(enum.StrEnum):
    """What an account credential authenticates."""

    HEADER = "header"  # Stedi webhooks: API-key header, value stored hashed
    BASIC = "basic"  # Stedi webhooks: HTTP Basic, password stored hashed
    DESTINATION = "destination"  # Stedi event destinations: whsec_ signing secret


@dataclass(frozen=True, slots=True)
class AccountCredential:
    """One credential of an account; several may be valid at once during a rotation.

    `name` is the header name (HEADER) or the Basic user name (BASIC); `secret` is a SHA-256
    hex digest for HEADER and BASIC, and the `whsec_` secret itself for DESTINATION (an HMAC
    key cannot be checked from a hash).
    """

    kind: CredentialKind
    name: str
    secret: str
    created_at: datetime
    expires_at: datetime | None = None

    def is_valid_at(self, now: datetime) -> bool:
        """True while this credential has not expired."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class Account:
    """A Stedi account (one webhook configuration) under a local name.

    `stedi_account_id` is the id Stedi puts in webhook events (its form is Stedi's: a UUID, or
    another form in older accounts); `stedi_account_uuid`, if set, is the account's UUID, the
    form event destinations carry. An event naming either is the account's.
    """

    name: str
    stedi_account_id: str
    created_at: datetime
    credentials: tuple[AccountCredential, ...] = ()
    api_key: str | None = None
    stedi_account_uuid: str | None = None

    def credentials_of(
        self, kinds: tuple[CredentialKind, ...], now: datetime
    ) -> list[AccountCredential]:
        """The unexpired credentials of the given kinds."""
        return [c for c in self.credentials if c.kind in kinds and c.is_valid_at(now)]


class SubscriptionStatus(enum.StrEnum):
    """Whether a subscription receives deliveries."""

    ACTIVE = "active"
    DISABLED = "disabled"  # by a 410 or by prolonged failure; `subscriptions enable` re-enables
    REMOVED = "removed"  # deleted by an operator; kept so its delivery history stays readable


class DeliveryStatus(enum.StrEnum):
    """Life cycle of one message's delivery to one subscription."""

    PENDING = "pending"
    RUNNING = "running"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A downstream endpoint and the messages it wants.

    `secret` is the `whsec_` signing secret; during a rotation `previous_secret` keeps signing
    too until `previous_expires_at`. `failing_since` is when the current unbroken run of
    failed attempts began (None after a success).
    """

    id: str
    url: str
    type_patterns: tuple[str, ...]
    account: str | None
    description: str
    secret: str
    status: SubscriptionStatus
    created_at: datetime
    updated_at: datetime
    previous_secret: str | None = None
    previous_expires_at: datetime | None = None
    disabled_reason: str | None = None
    failing_since: datetime | None = None

    def __repr__(self) -> str:
        return f"Subscription(id={self.id!r}, url=<redacted>, status={self.status.value!r})"

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets a delivery at `now` is signed with: current first, then one in grace."""
        if self.previous_secret and self.previous_expires_at and now < self.previous_expires_at:
            return (self.secret, self.previous_secret)
        return (self.secret,)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbound message owed to one subscription, with its retry state."""

    id: str
    message_id: str
    subscription_id: str
    type: str
    account: str | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    lease_until: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One HTTP attempt at a delivery: when, how long, and what came back."""

    delivery_id: str
    attempt: int
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    response_excerpt: str | None = None  # the first 1 KiB of the response body, as text
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """Which deliveries a listing returns; None fields do not filter."""

    subscription_id: str | None = None
    status: str | None = None
    type: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A leased delivery with what sending it needs: the message and its subscription."""

    delivery: Delivery
    message: OutboundMessage
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What the dispatcher decided after an attempt, for the store to apply in one go.

    `next_status` is PENDING (retry at `next_attempt_at`), DELIVERED or DEAD. `disable`, when
    set, disables the subscription with that reason in the same transaction.
    """

    attempt: DeliveryAttempt
    next_status: DeliveryStatus
    next_attempt_at: datetime | None = None
    disable: str | None = None


@dataclass(frozen=True, slots=True)
class RequeueCounts:
    """What redelivering an event did: deliveries put back to pending, and deliveries left
    alone because they were pending or in flight already."""

    requeued: int
    already_pending: int


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which deliveries a bulk replay resends: those of messages published in [`since`,
    `until`), to subscriptions that are not removed (only `subscription_id`'s, if given), in
    one of `statuses` (delivered and/or dead)."""

    since: datetime
    until: datetime
    subscription_id: str | None = None
    statuses: tuple[DeliveryStatus, ...] = (DeliveryStatus.DEAD,)


@dataclass(frozen=True, slots=True)
class ReplayCounts:
    """What a bulk replay found and did: `matched` deliveries in the filter's statuses (the
    ones a dry run would requeue), `requeued` (0 in a dry run), `already_pending` (pending or
    running in the window, never touched), and whether `matched` is over the limit."""

    matched: int
    requeued: int
    already_pending: int
    over_limit: bool = False


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
    OPTUM_ADD = "optum.add"
    OPTUM_ROTATE = "optum.rotate"
    OPTUM_REMOVE = "optum.remove"
    ERA_SUBMISSION_RELEASE = "era_submission.release"
    SIGNING_KEY_GENERATE = "signing_key.generate"
    SIGNING_KEY_ROTATE = "signing_key.rotate"
    KEK_CREATE = "kek.create"
    KEK_ROTATE = "kek.rotate"
    DATA_KEYS_REWRAP = "data_keys.rewrap"
    DATA_KEY_ROTATE = "data_key.rotate"
    REENCRYPT = "reencrypt"
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
