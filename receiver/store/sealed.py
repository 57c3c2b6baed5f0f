"""SealedStore: any Store, with its payloads and secrets sealed on the way in and opened on the
way out, so everything above the store sees plaintext and the database holds none.

Only the decorator knows about encryption: the adapters store sealed bytes, sealed text and
sealed-JSON wrappers as they stored plaintext. Patient control numbers are stored as a blind
index. Data keys are read at `open` (created on first use, wrapped by the current KEK) and
again when a value names a key not yet loaded, or every KEY_REFRESH_SECONDS before a write, so
a `receiver keys rotate-data-key` reaches every running process.
"""

from __future__ import annotations

import functools
import heapq
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import structlog

from receiver.crypto import (
    KekSet,
    Keyring,
    WrappedKey,
    blind_index,
    derive_index_key,
    new_data_key,
    unlock_keyring,
    unwrap,
    wrap,
)
from receiver.enrollment.submissions import EraSubmission, StoredConnection
from receiver.errors import DecryptionError
from receiver.models import (
    Account,
    AccountCredential,
    AttemptOutcome,
    AuditAction,
    AuditEntry,
    ClaimedDelivery,
    ClaimEntry,
    Client,
    CredentialKind,
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
from receiver.store.base import Store
from receiver.store.datakeys_port import RawValue, StoredDataKey
from receiver.store.sealed_optum import (
    SealedOptum,
    open_connection,
    open_submission,
)
from receiver.store.sealed_passthrough import PassThrough
from receiver.store.sealed_values import aad, open_json, open_text, seal_json, seal_text

T = TypeVar("T")
_log = structlog.get_logger("receiver.store.sealed")
KEY_REFRESH_SECONDS = 60.0


class SealedStore(SealedOptum, PassThrough):
    """The Store protocol over `inner`, sealing with data keys wrapped by `keks`."""

    def __init__(
        self, inner: Store, keks: KekSet, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self.inner = inner
        self.keks = keks
        self._now = now
        self._ring: Keyring | None = None
        self._index_key = b""
        self._loaded_at = 0.0

    # -- keys --------------------------------------------------------------------------------
    @property
    def ring(self) -> Keyring:
        """The unwrapped data keys (after `open`)."""
        if self._ring is None:
            raise DecryptionError("the store's data keys are not loaded: open it first")
        return self._ring

    async def load_keys(self, *, create: bool = True) -> None:
        """Unwrap every stored data key; with `create`, make the data and index keys first
        used. DecryptionError naming the KEK id when one is wrapped by a KEK not loaded."""
        stored = await self.inner.list_data_keys()
        if create and not any(k.purpose == "index" for k in stored):
            await self.inner.add_data_key(self._new_key("index"))
        if create and not any(k.purpose == "data" for k in stored):
            await self.inner.add_data_key(self._new_key("data"))
        if create:
            stored = await self.inner.list_data_keys()
        data = [k.wrapped for k in stored if k.purpose == "data"]
        index = [k.wrapped for k in stored if k.purpose == "index"]
        if not data or not index:
            raise DecryptionError("the database holds no data key yet: run `receiver migrate`")
        self._ring = unlock_keyring(data, self.keks)
        self._index_key = derive_index_key(unwrap(index[0], self.keks).key)
        self._loaded_at = time.monotonic()

    async def rotate_data_key(self) -> StoredDataKey:
        """Store a new data key; new values are sealed with it from the next key load."""
        key = self._new_key("data")
        await self.inner.add_data_key(key)
        await self.load_keys(create=False)
        return key

    async def rewrap_data_keys(self) -> list[str]:
        """Rewrap every data key not wrapped by the current KEK; the ids rewrapped."""
        done = []
        current = self.keks.current
        for key in await self.inner.list_data_keys():
            if key.wrapped.kek_id == current.kid:
                continue
            new = wrap(unwrap(key.wrapped, self.keks), current)
            if await self.inner.rewrap_data_key(new, old_kek_id=key.wrapped.kek_id):
                done.append(new.dek_id)
        return done

    def pcn_index(self, patient_control_number: str) -> str:
        """The blind index a patient control number is stored and found as."""
        return blind_index(patient_control_number, self._index_key)

    def _new_key(self, purpose: str) -> StoredDataKey:
        now = self._now() if self._now else datetime.now(UTC)
        wrapped = wrap(new_data_key(now), self.keks.current)
        return StoredDataKey(purpose="index" if purpose == "index" else "data", wrapped=wrapped)

    async def _fresh(self) -> Keyring:
        """The keyring for sealing, reloaded when it is older than KEY_REFRESH_SECONDS."""
        if time.monotonic() - self._loaded_at > KEY_REFRESH_SECONDS:
            await self.load_keys(create=False)
        return self.ring

    async def _opened(self, decode: Callable[[Keyring], T]) -> T:
        """`decode` with the keyring, once more after a reload if a value names a key that
        another process created after this one loaded its keys."""
        ring = self.ring
        try:
            return decode(ring)
        except DecryptionError as exc:
            if exc.key_id is None or exc.key_id in ring.ids:
                raise
        await self.load_keys(create=False)
        return decode(self.ring)

    async def _opened_connections(
        self, found: Sequence[StoredConnection]
    ) -> list[StoredConnection]:
        return await self._opened(lambda ring: [open_connection(ring, s) for s in found])

    async def _opened_submissions(self, found: Sequence[EraSubmission]) -> list[EraSubmission]:
        return await self._opened(lambda ring: [open_submission(ring, s) for s in found])

    async def append_audit(self, entry: AuditEntry) -> None:
        """Append, a claim read's target (a patient control number, a HIPAA identifier) as
        its blind index: the trail shows which reads were of the same claim, not the number."""
        if entry.action == AuditAction.CLAIM_READ.value and entry.target:
            entry = replace(entry, target="pcn-index:" + self.pcn_index(entry.target))
        await self.inner.append_audit(entry)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def migrated_at_open(self) -> list[str]:
        """The migrations `open` applied."""
        return self.inner.migrated_at_open

    @migrated_at_open.setter
    def migrated_at_open(self, value: list[str]) -> None:
        self.inner.migrated_at_open = value

    async def open(self) -> None:
        """Open the inner store, then load (or first create) the data keys."""
        await self.inner.open()
        try:
            await self.load_keys()
        except BaseException:
            await self.inner.close()
            raise

    async def close(self) -> None:
        """Close the inner store."""
        await self.inner.close()

    async def ping(self) -> None:
        """Ping the inner store."""
        await self.inner.ping()

    async def migrate(self) -> list[str]:
        """Migrate the inner store."""
        return await self.inner.migrate()

    # -- intake ------------------------------------------------------------------------------
    async def record_inbound(self, event: InboundEvent, job_kind: str | None) -> RecordResult:
        """Seal the body and headers, then record."""
        ring = await self._fresh()
        sealed = replace(
            event,
            body=ring.seal(event.body, aad=aad("inbound_events", "body", event.id)),
            headers=seal_json(ring, event.headers, aad("inbound_events", "headers", event.id)),
        )
        return await self.inner.record_inbound(sealed, job_kind)

    async def fetch_event(self, event_id: str, *, with_body: bool = True) -> StoredEvent | None:
        """Fetch and open."""
        found = await self.inner.fetch_event(event_id, with_body=with_body)
        if found is None:
            return None
        return await self._opened(lambda ring: _open_event(ring, found))

    async def list_events(
        self, flt: EventFilter, *, limit: int, cursor: str | None
    ) -> Page[StoredEvent]:
        """List and open the headers."""
        page = await self.inner.list_events(flt, limit=limit, cursor=cursor)
        items = await self._opened(lambda ring: [_open_event(ring, e) for e in page.items])
        return Page(items, page.next_cursor)

    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None) -> Page[Job]:
        """Delegated."""
        return await self.inner.list_jobs(flt, limit=limit, cursor=cursor)

    # -- job queue ---------------------------------------------------------------------------
    async def claim_due_jobs(
        self,
        *,
        now: datetime,
        lease_seconds: int,
        limit: int,
        kinds: tuple[str, ...] | None = None,
    ) -> list[Job]:
        """Delegated."""
        return await self.inner.claim_due_jobs(
            now=now, lease_seconds=lease_seconds, limit=limit, kinds=kinds
        )

    async def complete_job(
        self,
        job_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        result: JobResult | None = None,
    ) -> bool:
        """Seal the result's documents, claims and messages, then complete."""
        if result is not None:
            ring = await self._fresh()
            result = JobResult(
                documents=tuple(_seal_document(ring, d) for d in result.documents),
                claims=tuple(self._seal_claim(ring, c) for c in result.claims),
                messages=tuple(_seal_message(ring, m) for m in result.messages),
            )
        return await self.inner.complete_job(
            job_id, now=now, lease_until=lease_until, result=result
        )

    def _seal_claim(self, ring: Keyring, claim: ClaimEntry) -> ClaimEntry:
        index = self.pcn_index(claim.patient_control_number)
        where = aad("claim_entries", "data", index, claim.kind)
        return replace(claim, patient_control_number=index, data=seal_json(ring, claim.data, where))

    async def fetch_documents(self, event_id: str) -> list[Document]:
        """Fetch and open."""
        found = await self.inner.fetch_documents(event_id)
        return await self._opened(lambda ring: [_open_document(ring, d) for d in found])

    async def fetch_transaction_document(
        self, account: str | None, transaction_id: str, kind: str
    ) -> Document | None:
        """Fetch and open."""
        found = await self.inner.fetch_transaction_document(account, transaction_id, kind)
        if found is None:
            return None
        return await self._opened(lambda ring: _open_document(ring, found))

    async def claim_timeline(self, patient_control_number: str) -> list[TimelineEntry]:
        """The entries stored under the number's blind index, and any stored in the clear
        before encryption (until `keys reencrypt` indexes them), oldest event first."""
        index = self.pcn_index(patient_control_number)
        sealed = await self.inner.claim_timeline(index)
        legacy = await self.inner.claim_timeline(patient_control_number)
        merged = list(heapq.merge(sealed, legacy, key=lambda e: e.received_at))

        def decode(ring: Keyring) -> list[TimelineEntry]:
            return [
                replace(
                    e,
                    patient_control_number=patient_control_number,
                    data=open_json(
                        ring, e.data, aad("claim_entries", "data", e.patient_control_number, e.kind)
                    ),
                )
                for e in merged
            ]

        return await self._opened(decode)

    async def list_messages(self, *, limit: int, cursor: str | None) -> Page[OutboundMessage]:
        """List and open."""
        page = await self.inner.list_messages(limit=limit, cursor=cursor)
        items = await self._opened(lambda ring: [_open_message(ring, m) for m in page.items])
        return Page(items, page.next_cursor)

    async def retry_job(
        self,
        job_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        next_attempt_at: datetime,
        error: str,
    ) -> bool:
        """Delegated."""
        return await self.inner.retry_job(
            job_id, now=now, lease_until=lease_until, next_attempt_at=next_attempt_at, error=error
        )

    async def kill_job(
        self, job_id: str, *, now: datetime, lease_until: datetime, error: str
    ) -> bool:
        """Delegated."""
        return await self.inner.kill_job(job_id, now=now, lease_until=lease_until, error=error)

    async def count_jobs_by_status(self) -> dict[str, int]:
        """Delegated."""
        return await self.inner.count_jobs_by_status()

    async def revive_job(self, job_id: str, *, now: datetime) -> bool:
        """Delegated."""
        return await self.inner.revive_job(job_id, now=now)

    # -- OAuth clients (secrets are stored as hashes) -----------------------------------------
    async def add_client(self, client: Client) -> None:
        """Delegated."""
        await self.inner.add_client(client)

    async def fetch_client(self, client_id: str) -> Client | None:
        """Delegated."""
        return await self.inner.fetch_client(client_id)

    async def fetch_client_by_name(self, name: str) -> Client | None:
        """Delegated."""
        return await self.inner.fetch_client_by_name(name)

    async def list_clients(self) -> list[Client]:
        """Delegated."""
        return await self.inner.list_clients()

    async def update_client(self, client: Client) -> None:
        """Delegated."""
        await self.inner.update_client(client)

    # -- Stedi accounts ----------------------------------------------------------------------
    async def add_account(self, account: Account) -> None:
        """Seal the API key and signing secrets, then add."""
        await self.inner.add_account(_seal_account(await self._fresh(), account))

    async def fetch_account(self, name: str) -> Account | None:
        """Fetch and open."""
        found = await self.inner.fetch_account(name)
        if found is None:
            return None
        return await self._opened(lambda ring: _open_account(ring, found))

    async def list_accounts(self) -> list[Account]:
        """List and open."""
        found = await self.inner.list_accounts()
        return await self._opened(lambda ring: [_open_account(ring, a) for a in found])

    async def update_account(self, account: Account) -> None:
        """Seal, then replace."""
        await self.inner.update_account(_seal_account(await self._fresh(), account))

    async def remove_account(self, name: str) -> bool:
        """Delegated."""
        return await self.inner.remove_account(name)

    # -- poll cursors (no PHI: times and vendor page tokens) ---------------------------------
    async def fetch_poll_cursor(self, name: str) -> str | None:
        """Delegated."""
        return await self.inner.fetch_poll_cursor(name)

    async def save_poll_cursor(self, name: str, value: str, now: datetime) -> None:
        """Delegated."""
        await self.inner.save_poll_cursor(name, value, now)

    # -- fan-out -----------------------------------------------------------------------------
    async def add_subscription(self, subscription: Subscription) -> None:
        """Seal the secrets, then add."""
        await self.inner.add_subscription(_seal_subscription(await self._fresh(), subscription))

    async def fetch_subscription(self, subscription_id: str) -> Subscription | None:
        """Fetch and open."""
        found = await self.inner.fetch_subscription(subscription_id)
        if found is None:
            return None
        return await self._opened(lambda ring: _open_subscription(ring, found))

    async def list_subscriptions(self, *, include_removed: bool = False) -> list[Subscription]:
        """List and open."""
        found = await self.inner.list_subscriptions(include_removed=include_removed)
        return await self._opened(lambda ring: [_open_subscription(ring, s) for s in found])

    async def update_subscription(self, subscription: Subscription) -> None:
        """Seal, then replace."""
        await self.inner.update_subscription(_seal_subscription(await self._fresh(), subscription))

    async def release_held_deliveries(self, subscription_id: str, *, now: datetime) -> None:
        """Delegated."""
        await self.inner.release_held_deliveries(subscription_id, now=now)

    async def claim_due_deliveries(
        self, *, now: datetime, lease_seconds: int, limit: int, per_subscription: int
    ) -> list[ClaimedDelivery]:
        """Claim, and open each message and subscription."""
        found = await self.inner.claim_due_deliveries(
            now=now, lease_seconds=lease_seconds, limit=limit, per_subscription=per_subscription
        )
        opened: list[ClaimedDelivery] = []
        for item in found:
            try:
                opened.append(await self._opened(functools.partial(_open_claimed, claimed=item)))
            except DecryptionError as exc:
                # Left leased, so retried once its lease lapses, never sent nor lost; the
                # others claimed with it go out meanwhile.
                _log.error(
                    "store.delivery_undecryptable", delivery_id=item.delivery.id, key_id=exc.key_id
                )
        return opened

    async def finish_delivery(
        self, delivery_id: str, *, now: datetime, lease_until: datetime, outcome: AttemptOutcome
    ) -> bool:
        """Seal the response excerpt, then finish."""
        ring = await self._fresh()
        attempt = outcome.attempt
        # Bound to the delivery only: the store numbers the attempt itself.
        where = aad("delivery_attempts", "response_excerpt", delivery_id)
        sealed = replace(
            outcome,
            attempt=replace(
                attempt, response_excerpt=seal_text(ring, attempt.response_excerpt, where)
            ),
        )
        return await self.inner.finish_delivery(
            delivery_id, now=now, lease_until=lease_until, outcome=sealed
        )

    async def fetch_delivery(self, delivery_id: str) -> Delivery | None:
        """Delegated."""
        return await self.inner.fetch_delivery(delivery_id)

    async def list_deliveries(
        self, flt: DeliveryFilter, *, limit: int, cursor: str | None
    ) -> Page[Delivery]:
        """Delegated."""
        return await self.inner.list_deliveries(flt, limit=limit, cursor=cursor)

    async def list_attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        """List and open the response excerpts."""
        found = await self.inner.list_attempts(delivery_id)
        return await self._opened(lambda ring: [_open_attempt(ring, a) for a in found])

    async def revive_delivery(self, delivery_id: str, *, now: datetime) -> bool:
        """Delegated."""
        return await self.inner.revive_delivery(delivery_id, now=now)

    async def requeue_event_deliveries(
        self, event_id: str, *, now: datetime, subscription_id: str | None = None
    ) -> RequeueCounts:
        """Delegated."""
        return await self.inner.requeue_event_deliveries(
            event_id, now=now, subscription_id=subscription_id
        )

    async def requeue_deliveries(
        self, flt: ReplayFilter, *, now: datetime, limit: int, dry_run: bool = False
    ) -> ReplayCounts:
        """Delegated."""
        return await self.inner.requeue_deliveries(flt, now=now, limit=limit, dry_run=dry_run)

    async def count_deliveries_by_status(self) -> dict[str, int]:
        """Delegated."""
        return await self.inner.count_deliveries_by_status()

    # -- wake-ups ----------------------------------------------------------------------------
    async def listen(
        self, *, on_jobs: Callable[[], None], on_deliveries: Callable[[], None]
    ) -> Callable[[], Awaitable[None]]:
        """Delegated."""
        return await self.inner.listen(on_jobs=on_jobs, on_deliveries=on_deliveries)

    # -- data keys ---------------------------------------------------------------------------
    async def list_data_keys(self) -> list[StoredDataKey]:
        """Delegated."""
        return await self.inner.list_data_keys()

    async def add_data_key(self, key: StoredDataKey) -> bool:
        """Delegated."""
        return await self.inner.add_data_key(key)

    async def rewrap_data_key(self, new: WrappedKey, *, old_kek_id: str) -> bool:
        """Delegated."""
        return await self.inner.rewrap_data_key(new, old_kek_id=old_kek_id)

    async def scan_sealed(self, column: str, *, after_seq: int, limit: int) -> list[RawValue]:
        """Delegated (raw: sealed values as stored)."""
        return await self.inner.scan_sealed(column, after_seq=after_seq, limit=limit)

    async def replace_sealed(
        self, column: str, *, seq: int, old: bytes | str, new: bytes | str, key: str | None = None
    ) -> bool:
        """Delegated (raw)."""
        return await self.inner.replace_sealed(column, seq=seq, old=old, new=new, key=key)


def _open_claimed(ring: Keyring, claimed: ClaimedDelivery) -> ClaimedDelivery:
    return replace(
        claimed,
        message=_open_message(ring, claimed.message),
        subscription=_open_subscription(ring, claimed.subscription),
    )


def _open_event(ring: Keyring, event: StoredEvent) -> StoredEvent:
    headers = cast(
        dict[str, str],
        open_json(
            ring, cast(dict[str, Any], event.headers), aad("inbound_events", "headers", event.id)
        ),
    )
    body = event.body
    if body is not None:
        body = ring.open(body, aad=aad("inbound_events", "body", event.id), allow_legacy=True)
    return replace(event, headers=headers, body=body)


def _document_aad(document: Document) -> bytes:
    return aad("documents", "body", document.transaction_id, document.kind)


def _seal_document(ring: Keyring, document: Document) -> Document:
    return replace(document, body=ring.seal(document.body, aad=_document_aad(document)))


def _open_document(ring: Keyring, document: Document) -> Document:
    body = ring.open(document.body, aad=_document_aad(document), allow_legacy=True)
    return replace(document, body=body)


def _seal_message(ring: Keyring, message: OutboundMessage) -> OutboundMessage:
    where = aad("outbound_messages", "data", message.id)
    return replace(message, data=seal_json(ring, message.data, where))


def _open_message(ring: Keyring, message: OutboundMessage) -> OutboundMessage:
    where = aad("outbound_messages", "data", message.id)
    return replace(message, data=open_json(ring, message.data, where))


def _open_attempt(ring: Keyring, attempt: DeliveryAttempt) -> DeliveryAttempt:
    where = aad("delivery_attempts", "response_excerpt", attempt.delivery_id)
    return replace(attempt, response_excerpt=open_text(ring, attempt.response_excerpt, where))


def _credential_aad(account: str, credential: AccountCredential) -> bytes:
    return aad("accounts", "credentials", account, credential.name)


def _seal_account(ring: Keyring, account: Account) -> Account:
    credentials = tuple(
        replace(c, secret=ring.seal_text(c.secret, aad=_credential_aad(account.name, c)))
        if c.kind is CredentialKind.DESTINATION
        else c  # header and basic credentials are stored as hashes
        for c in account.credentials
    )
    api_key = seal_text(ring, account.api_key, aad("accounts", "api_key", account.name))
    return replace(account, credentials=credentials, api_key=api_key)


def _open_account(ring: Keyring, account: Account) -> Account:
    credentials = tuple(
        replace(
            c,
            secret=ring.open_text(
                c.secret, aad=_credential_aad(account.name, c), allow_legacy=True
            ),
        )
        for c in account.credentials
    )
    api_key = open_text(ring, account.api_key, aad("accounts", "api_key", account.name))
    return replace(account, credentials=credentials, api_key=api_key)


def _seal_subscription(ring: Keyring, sub: Subscription) -> Subscription:
    return replace(
        sub,
        secret=ring.seal_text(sub.secret, aad=aad("subscriptions", "secret", sub.id)),
        previous_secret=seal_text(
            ring, sub.previous_secret, aad("subscriptions", "previous_secret", sub.id)
        ),
    )


def _open_subscription(ring: Keyring, sub: Subscription) -> Subscription:
    secret = ring.open_text(
        sub.secret, aad=aad("subscriptions", "secret", sub.id), allow_legacy=True
    )
    return replace(
        sub,
        secret=secret,
        previous_secret=open_text(
            ring, sub.previous_secret, aad("subscriptions", "previous_secret", sub.id)
        ),
    )
