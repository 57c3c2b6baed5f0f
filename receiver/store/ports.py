"""The Store's narrow ports: one Protocol per consumer's need; `Store` is their union."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from receiver.models import (
    Account,
    AttemptOutcome,
    ClaimedDelivery,
    Client,
    Delivery,
    DeliveryAttempt,
    DeliveryFilter,
    Document,
    EventFilter,
    InboundEvent,
    Job,
    JobFilter,
    JobResult,
    OutboundMessage,
    Page,
    RecordResult,
    ReplayCounts,
    ReplayFilter,
    RequeueCounts,
    StoredEvent,
    Subscription,
    TimelineEntry,
)


class Lifecycle(Protocol):
    """Opening, closing and migrating the store; a trivial query for readiness."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None:
        """Release connections; pending writes are finished first."""

    async def ping(self) -> None:
        """Raise StoreUnavailableError unless the store answers a trivial query."""

    migrated_at_open: list[str]  # the migrations `open` applied, for `receiver migrate`

    async def migrate(self) -> list[str]:
        """Apply the numbered SQL migrations not yet applied; return their names."""


class IntakeLog(Protocol):
    """Recording inbound events exactly once (the intake routes, reconciliation)."""

    async def record_inbound(self, event: InboundEvent, job_kind: str | None) -> RecordResult:
        """Store the event, its dedup keys and (if `job_kind`) one pending job, in ONE
        transaction, committed before returning. If any dedup key is already stored, store
        nothing and return the existing event's id with `created=False`."""


class EventReader(Protocol):
    """One stored event by id."""

    async def fetch_event(self, event_id: str, *, with_body: bool = True) -> StoredEvent | None:
        """One event by id, with its raw body unless `with_body` is False."""


class EventLog(EventReader, Protocol):
    """The operator's view of events, jobs, documents, claims and messages."""

    async def list_events(
        self, flt: EventFilter, *, limit: int, cursor: str | None
    ) -> Page[StoredEvent]:
        """Events matching `flt`, newest first, without bodies; `cursor` continues a page."""

    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None) -> Page[Job]:
        """Jobs matching `flt`, newest first."""

    async def fetch_documents(self, event_id: str) -> list[Document]:
        """The documents stored for an event, by kind."""

    async def claim_timeline(self, patient_control_number: str) -> list[TimelineEntry]:
        """Every claim entry for a patient control number, oldest event first."""

    async def list_messages(self, *, limit: int, cursor: str | None) -> Page[OutboundMessage]:
        """Outbound messages, newest first."""

    async def count_jobs_by_status(self) -> dict[str, int]:
        """How many jobs are in each status (statuses with none are absent)."""

    async def revive_job(self, job_id: str, *, now: datetime) -> bool:
        """Put a dead job back to pending, due at `now`, attempts kept (an operator's
        retry); False if the job is not dead."""


class JobQueue(EventReader, Protocol):
    """The follow-up worker's queue: lease due jobs, end them, read what a job needs."""

    async def claim_due_jobs(
        self,
        *,
        now: datetime,
        lease_seconds: int,
        limit: int,
        kinds: tuple[str, ...] | None = None,
    ) -> list[Job]:
        """Lease up to `limit` jobs that are due at `now` (of `kinds`, if given), oldest
        `next_attempt_at` first: pending jobs whose `next_attempt_at <= now`, and running jobs
        whose lease ran out (their worker died). Each is set running with
        `lease_until = now + lease_seconds`; `attempts` is unchanged. Concurrent claimers never
        receive the same job. Returns the jobs as updated."""

    async def complete_job(
        self,
        job_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        result: JobResult | None = None,
    ) -> bool:
        """Mark a job done (attempts + 1, lease and error cleared) and its event processed,
        in one transaction, if the job is still running under exactly `lease_until`; False
        otherwise (the lease expired and the job was claimed again, or it is gone).

        The same transaction stores `result`: documents (one per event and kind, and one per
        account, transaction and kind: the first event of a transaction to store a document
        keeps it), claim entries (those read from a document only if this result stored that
        document), outbound messages (one per id, and one per event and type), and one
        pending delivery, due at `now`, per message of the event and subscription that
        matches it (type pattern and account filter) and is not removed -- a disabled one's
        wait to be claimed until it is enabled; rows already there are left as they are."""

    async def retry_job(
        self,
        job_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        next_attempt_at: datetime,
        error: str,
    ) -> bool:
        """Put a running job back to pending (attempts + 1, lease cleared) to run again at
        `next_attempt_at`, keeping `error` (truncated); same lease guard as `complete_job`."""

    async def kill_job(
        self, job_id: str, *, now: datetime, lease_until: datetime, error: str
    ) -> bool:
        """Give up on a running job: dead (attempts + 1, lease cleared, `error` kept,
        truncated) and its event failed, in one transaction; same lease guard as
        `complete_job`."""

    async def fetch_transaction_document(
        self, account: str | None, transaction_id: str, kind: str
    ) -> Document | None:
        """The document of `kind` stored for a transaction of an account, by whichever of
        its events stored it first; None if there is none yet."""


class ClientReader(Protocol):
    """One OAuth client by id (the token endpoint and the guard)."""

    async def fetch_client(self, client_id: str) -> Client | None:
        """A client by its client_id, revoked ones included."""


class Clients(ClientReader, Protocol):
    """OAuth clients (the token endpoint and guard read; the CLI writes)."""

    async def add_client(self, client: Client) -> None:
        """Store a new client; ConflictError if the name or id is taken."""

    async def fetch_client_by_name(self, name: str) -> Client | None:
        """A client by its local name."""

    async def list_clients(self) -> list[Client]:
        """Every client, oldest first."""

    async def update_client(self, client: Client) -> None:
        """Replace a stored client (after a rotation or revocation); NotFoundError if absent."""


class AccountReader(Protocol):
    """One Stedi account by name (what a job runs for)."""

    async def fetch_account(self, name: str) -> Account | None:
        """An account by its local name."""


class Accounts(AccountReader, Protocol):
    """Stedi accounts."""

    async def add_account(self, account: Account) -> None:
        """Store a new account; ConflictError if the name is taken."""

    async def list_accounts(self) -> list[Account]:
        """Every account, by name."""

    async def update_account(self, account: Account) -> None:
        """Replace a stored account (credential rotation); NotFoundError if absent."""

    async def remove_account(self, name: str) -> bool:
        """Delete an account; False if there was none. Its events are kept."""


class PollCursors(Protocol):
    """Where each poller of an upstream API left off."""

    async def fetch_poll_cursor(self, name: str) -> str | None:
        """The value stored under a poll cursor's name, or None if none was saved."""

    async def save_poll_cursor(self, name: str, value: str, now: datetime) -> None:
        """Store `value` under `name` (insert or replace), stamped `updated_at = now`."""


class Subscriptions(Protocol):
    """Subscriptions to outbound messages."""

    async def add_subscription(self, subscription: Subscription) -> None:
        """Store a new subscription."""

    async def fetch_subscription(self, subscription_id: str) -> Subscription | None:
        """A subscription by id, removed ones included."""

    async def list_subscriptions(self, *, include_removed: bool = False) -> list[Subscription]:
        """Subscriptions, oldest first; removed ones only if asked for."""

    async def update_subscription(self, subscription: Subscription) -> None:
        """Replace a stored subscription (rotation, enable, disable, remove); NotFoundError
        if absent."""

    async def release_held_deliveries(self, subscription_id: str, *, now: datetime) -> None:
        """Make the subscription's pending deliveries due at `now`, those still backing off
        included, so that enabling it again sends what waited at once. Wakes other
        processes' dispatchers where it can."""


class DeliveryQueue(Protocol):
    """The dispatcher's queue: lease due deliveries, record each attempt."""

    async def claim_due_deliveries(
        self, *, now: datetime, lease_seconds: int, limit: int, per_subscription: int
    ) -> list[ClaimedDelivery]:
        """Lease up to `limit` due deliveries of active subscriptions, oldest due first:
        pending ones with `next_attempt_at <= now` and running ones whose lease ran out. No
        subscription gets more than `per_subscription` deliveries running at once (those
        already running under a live lease count). Each is set running with
        `lease_until = now + lease_seconds`. Concurrent claimers never receive the same one."""

    async def finish_delivery(
        self, delivery_id: str, *, now: datetime, lease_until: datetime, outcome: AttemptOutcome
    ) -> bool:
        """In one transaction, if the delivery is still running under exactly `lease_until`:
        append the attempt row (numbered after the delivery's earlier attempts), set the
        delivery's status, `attempts + 1`, `next_attempt_at`, `last_status` and `last_error`;
        on the subscription clear `failing_since` after a success or set it (if unset) after
        a failure, and disable it with `outcome.disable` as the reason when that is set.
        False (and nothing written) if the lease was lost."""


class DeliveryLog(Protocol):
    """The operator's view of deliveries and their attempts; revive and redeliver."""

    async def fetch_delivery(self, delivery_id: str) -> Delivery | None:
        """A delivery by id."""

    async def list_deliveries(
        self, flt: DeliveryFilter, *, limit: int, cursor: str | None
    ) -> Page[Delivery]:
        """Deliveries matching `flt`, newest first."""

    async def list_attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        """A delivery's attempts, oldest first."""

    async def revive_delivery(self, delivery_id: str, *, now: datetime) -> bool:
        """Put a dead delivery back to pending, due at `now`, with a fresh attempt budget
        (`attempts` reset to 0; the attempt rows are kept); False if it is not dead."""

    async def requeue_event_deliveries(
        self, event_id: str, *, now: datetime, subscription_id: str | None = None
    ) -> RequeueCounts:
        """Send an event's published messages again, in one transaction: every delivery of
        its messages (only `subscription_id`'s, if given; never a removed subscription's)
        that is delivered or dead goes back to pending, due at `now`, `attempts` reset to 0
        and lease cleared (the attempt rows are kept); pending and running ones are left
        alone and counted as already pending. Subscriptions created after a message was
        published have no delivery of it and get nothing. NotFoundError for an unknown event
        or subscription; ConflictError for a removed subscription or an event that has
        published no messages yet. Wakes other processes' dispatchers where it can."""

    async def count_deliveries_by_status(self) -> dict[str, int]:
        """How many deliveries are in each status (statuses with none are absent)."""


class ReplayLog(Protocol):
    """Bulk replay of deliveries over a time window."""

    async def requeue_deliveries(
        self, flt: ReplayFilter, *, now: datetime, limit: int, dry_run: bool = False
    ) -> ReplayCounts:
        """Bulk replay, in one transaction: count the deliveries of messages published in
        [`flt.since`, `flt.until`) to subscriptions that are not removed (only
        `flt.subscription_id`'s, if given): those in `flt.statuses` (`matched`), and those
        pending or running (`already_pending`, never touched). Unless `dry_run`, put the
        matched ones back to pending exactly as `requeue_event_deliveries` does. More than
        `limit` matched: a dry run says `over_limit`, a replay raises ConflictError and
        changes nothing. BadRequestError for an empty window or statuses other than
        delivered and dead; NotFoundError for an unknown subscription, ConflictError for a
        removed one. Wakes other processes' dispatchers where it can."""


class WakeUps(Protocol):
    """Cross-process wake-ups for new work, where the store can give them."""

    async def listen(
        self, *, on_jobs: Callable[[], None], on_deliveries: Callable[[], None]
    ) -> Callable[[], Awaitable[None]]:
        """Call `on_jobs` / `on_deliveries` when another process commits new work of that
        kind, where the store can tell (PostgreSQL LISTEN/NOTIFY; SQLite cannot, and its
        workers poll); returns the coroutine function that stops listening."""


class Directory(Clients, Accounts, PollCursors, Subscriptions, Protocol):
    """Who may call, which upstream accounts there are, who subscribes to what."""


class FollowUpStore(JobQueue, AccountReader, Protocol):
    """What the follow-up worker uses: its job queue and the account a job runs for."""


class ReconcileStore(IntakeLog, Accounts, PollCursors, Protocol):
    """What reconciliation uses: the accounts to poll, where it left off, and intake."""


class DeliveryOps(DeliveryLog, Subscriptions, Protocol):
    """What ops' delivery use cases read and write: deliveries and their subscriptions."""
