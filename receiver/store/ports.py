"""The Store's narrow ports: one Protocol per consumer's need; `Store` is their union."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from receiver.eligibility.records import EligibilityBatch, EligibilitySubmission
from receiver.enrollment.submissions import (
    EraSubmission,
    LiveRecord,
    StoredConnection,
    SubmissionStatus,
)
from receiver.models import (
    Account,
    AttemptOutcome,
    AuditEntry,
    AuditFilter,
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
from receiver.store.reprocess_sql import DeadJobFilter
from receiver.store.retention_sql import PurgeCounts


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

        The same transaction stores `result`: documents (one per account, transaction, kind
        and revision: the first event of a transaction to store a revision keeps it; a
        corrected report is the next revision, beside the earlier ones), claim entries (those
        read from a document only if this result stored that document, with its revision),
        outbound messages (one per id: a corrected report's have new ids), and one
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


class AuditTrail(Protocol):
    """Append-only audit rows: the store refuses to update or delete them."""

    async def append_audit(self, entry: AuditEntry) -> None:
        """Store one audit row, committed before returning."""

    async def list_audit(
        self, flt: AuditFilter, *, limit: int, cursor: str | None
    ) -> Page[AuditEntry]:
        """Audit rows matching `flt`, newest first; `cursor` continues a page."""


class ReprocessQueue(Protocol):
    """Run follow-ups again: one event's, or those of dead jobs by filter."""

    async def queue_reprocess(self, event_id: str, *, now: datetime) -> bool:
        """Put one `reprocess` job for the event in the queue, due at `now` (its earlier one
        started over if finished); False if one is still pending or running. NotFoundError
        for an unknown event. Wakes other processes' workers where it can."""

    async def dead_job_ids(self, flt: DeadJobFilter) -> list[str]:
        """The ids of the dead jobs `flt` matches, oldest first."""

    async def revive_dead_jobs(self, job_ids: Sequence[str], *, now: datetime) -> int:
        """Put those of `job_ids` still dead back to pending, due at `now` (attempts kept, as
        `revive_job`), in one short transaction; how many were. Wakes other processes'
        workers."""


class Retention(Protocol):
    """Purge the raw bodies and documents of old, settled events; keep everything else."""

    async def purge_bodies(
        self, *, before: datetime, now: datetime, batch: int, dry_run: bool
    ) -> PurgeCounts:
        """Empty the raw body and the documents' bodies of every event received before
        `before` with nothing owed (see `retention_sql`), `batch` events per transaction so
        no lock is held long, stamping `purged_at = now`; a dry run only counts."""

    async def reclaim_space(self, *, convert: bool) -> int:
        """Give the space purged rows left back to the file system where the store can (SQLite:
        an incremental vacuum; a file without it is converted by one VACUUM, which holds
        writes back for its whole rewrite, only if `convert`); the bytes returned (0
        elsewhere)."""


class Directory(Clients, Accounts, PollCursors, Subscriptions, Protocol):
    """Who may call, which upstream accounts there are, who subscribes to what."""


class FollowUpStore(JobQueue, AccountReader, Protocol):
    """What the follow-up worker uses: its job queue and the account a job runs for."""


class ReconcileStore(IntakeLog, Accounts, PollCursors, Protocol):
    """What reconciliation uses: the accounts to poll, where it left off, and intake."""


class DeliveryOps(DeliveryLog, Subscriptions, Protocol):
    """What ops' delivery use cases read and write: deliveries and their subscriptions."""


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


class EligibilityStageStore(EligibilityStore, AccountReader, IntakeLog, Protocol):
    """What the eligibility stage uses beyond its own port: accounts (their Stedi keys) and
    the inbox its results are recorded in (so the worker publishes them)."""


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

    async def release_era_submission(
        self, submission_id: str, *, was: SubmissionStatus, reason: str, now: datetime
    ) -> bool:
        """If the submission is still `was`: mark it dead with `reason` (completed at `now`)
        and release its pending records, in one transaction; False (nothing changed) if it
        moved on meanwhile."""

    async def claim_due_era_submissions(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[EraSubmission]:
        """Up to `limit` polling submissions due at `now`, each moved to `next_poll_at =
        lease_until` so no other poller takes it meanwhile. Concurrent claimers never get
        the same one."""


class EnrollmentStageStore(EnrollmentStore, IntakeLog, PollCursors, Protocol):
    """What the ERA enrollment poller and the missed-callback sweep use beyond their own port:
    the inbox results and found callbacks are recorded in, and the sweep's cursor."""
