"""The data-key port and encryption at rest over each adapter: wrapped keys stored once, rows
written before encryption still read, reencrypt seals them, and data-key and KEK rotations keep
every row readable."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import orjson
import pytest

from receiver.crypto import KekSet, Keyring, new_kek, sealed_key_id, wrap
from receiver.crypto.datakey import new_data_key
from receiver.enrollment.submissions import StoredConnection
from receiver.errors import DecryptionError
from receiver.models import (
    Account,
    AccountCredential,
    ClaimEntry,
    CredentialKind,
    DeliveryFilter,
    DeliveryStatus,
    Document,
    JobResult,
)
from receiver.store.base import Store
from receiver.store.datakeys_port import StoredDataKey
from receiver.store.datakeys_sql import SEALED_COLUMNS
from receiver.store.reencrypt import reencrypt
from receiver.store.sealed import SealedStore
from receiver.store.sealed_values import aad, seal_json
from receiver.upstream.optum import OptumConnection
from tests.contract.fanout_support import claim, finish, msg, outcome, subscription
from tests.contract.support import NOW, T0, claimed_job, complete, make_event as event

pytestmark = pytest.mark.anyio

REPORT = b'{"report": "835 for CANARY-REPORT", "spacing":  "kept" }'
PCN = "PCN-CANARY-0042"
API_KEY = "stedi-key-CANARY"
OPTUM_SECRET = "optum-secret-CANARY"
WHSEC = "whsec_" + "Q" * 32


def inner_of(store: Store) -> Store:
    """The adapter itself (the fixture may hand a SealedStore)."""
    return store.inner if isinstance(store, SealedStore) else store


def keks_of(store: Store) -> KekSet:
    """The KEKs the store's data keys are wrapped by: the fixture's own, or a new set."""
    return store.keks if isinstance(store, SealedStore) else KekSet((new_kek(),))


async def test_data_keys_are_stored_and_one_index_key_only(store: Store) -> None:
    raw = inner_of(store)
    kek = new_kek()
    before = len(await raw.list_data_keys())
    data = StoredDataKey("data", wrap(new_data_key(T0), kek))
    index = StoredDataKey("index", wrap(new_data_key(T0), kek))
    second_index = StoredDataKey("index", wrap(new_data_key(T0 + timedelta(1)), kek))
    assert await raw.add_data_key(data)
    added_index = await raw.add_data_key(index)
    assert await raw.add_data_key(second_index) is False
    stored = {k.wrapped.dek_id: k for k in await raw.list_data_keys()}
    assert len(stored) == before + (2 if added_index else 1)
    assert stored[data.wrapped.dek_id] == data


async def test_rewrap_is_a_compare_and_set_on_the_kek(store: Store) -> None:
    raw = inner_of(store)
    old, new = new_kek(), new_kek()
    key = new_data_key(T0)
    assert await raw.add_data_key(StoredDataKey("data", wrap(key, old)))
    rewrapped = wrap(key, new)
    assert await raw.rewrap_data_key(rewrapped, old_kek_id=old.kid)
    assert await raw.rewrap_data_key(rewrapped, old_kek_id=old.kid) is False
    (found,) = [k for k in await raw.list_data_keys() if k.wrapped.dek_id == key.id]
    assert found.wrapped == rewrapped


async def write_everything(store: Store) -> dict[str, str]:
    """An event with a report, a claim and a message, a delivery attempt, an account with an
    API key and a destination secret, and a subscription; through `store` as given."""
    job = await claimed_job(store, 7)
    message = replace(msg("claim.remittance.received"), data={"canary": "CANARY-MESSAGE"})
    sub = replace(subscription(), secret=WHSEC, previous_secret=WHSEC[:-1] + "R")
    await store.add_subscription(sub)
    result = JobResult(
        documents=(Document("835", "txn-7", REPORT),),
        claims=(ClaimEntry(PCN, "remittance", {"paid": "CANARY-CLAIM"}, "835"),),
        messages=(message,),
    )
    assert await complete(store, job, result)
    (item,) = [c for c in await claim(store) if c.subscription.id == sub.id]
    attempt = outcome(DeliveryStatus.DELIVERED)
    attempt = replace(attempt, attempt=replace(attempt.attempt, response_excerpt="CANARY-EXCERPT"))
    assert await finish(store, item, attempt)
    await store.add_account(
        Account(
            name="acme",
            stedi_account_id="X",
            created_at=NOW,
            credentials=(AccountCredential(CredentialKind.DESTINATION, "d", WHSEC, NOW),),
            api_key=API_KEY,
        )
    )
    await store.add_optum_connection(
        StoredConnection(
            OptumConnection(
                name="optum-1", tenant_id="t-1", client_id="c-1", client_secret=OPTUM_SECRET
            ),
            created_at=NOW,
        )
    )
    return {"event": job.event_id, "sub": sub.id, "delivery": item.delivery.id, "msg": message.id}


async def assert_all_readable(sealed: SealedStore, ids: dict[str, str]) -> None:
    found = await sealed.fetch_event(ids["event"])
    assert found is not None
    assert found.body == event(7).body
    assert found.headers == event(7).headers
    (doc,) = await sealed.fetch_documents(ids["event"])
    assert doc.body == REPORT
    by_txn = await sealed.fetch_transaction_document("acme", "txn-7", "835")
    assert by_txn is not None
    assert by_txn.body == REPORT
    (entry,) = await sealed.claim_timeline(PCN)
    assert (entry.patient_control_number, entry.data) == (PCN, {"paid": "CANARY-CLAIM"})
    (message,) = [m for m in (await sealed.list_messages(limit=50, cursor=None)).items]
    assert message.data == {"canary": "CANARY-MESSAGE"}
    sub = await sealed.fetch_subscription(ids["sub"])
    assert sub is not None
    assert (sub.secret, sub.previous_secret) == (WHSEC, WHSEC[:-1] + "R")
    (attempt,) = await sealed.list_attempts(ids["delivery"])
    assert attempt.response_excerpt == "CANARY-EXCERPT"
    account = await sealed.fetch_account("acme")
    assert account is not None
    assert (account.api_key, account.credentials[0].secret) == (API_KEY, WHSEC)
    optum = await sealed.fetch_optum_connection("optum-1")
    assert optum is not None
    assert optum.connection.client_secret == OPTUM_SECRET


async def key_ids_in_rows(store: Store) -> set[str | None]:
    """The data key id of every value in every sealed column (None: plaintext)."""
    raw = inner_of(store)
    ids: set[str | None] = set()
    for col in SEALED_COLUMNS:
        for row in await raw.scan_sealed(col.name, after_seq=0, limit=1000):
            value = row.value
            if col.kind == "json":
                parsed = orjson.loads(value)
                value = parsed.get("$rcv", "") if isinstance(parsed, dict) else ""
            ids.add(sealed_key_id(value))
    return ids


async def test_legacy_rows_read_then_reencrypt_seals_them(store: Store) -> None:
    raw = inner_of(store)
    ids = await write_everything(raw)  # written before encryption existed
    sealed = SealedStore(raw, keks_of(store))
    await sealed.load_keys()
    await assert_all_readable(sealed, ids)
    assert await key_ids_in_rows(raw) == {None}

    counts = await reencrypt(sealed, batch_size=2, dry_run=True)
    stale = {c.column: c.stale for c in counts}
    assert stale == {
        "event_bodies": 1,
        "event_headers": 1,
        "documents": 1,
        "claim_entries": 1,
        "messages": 1,
        "attempt_excerpts": 1,
        "subscription_secrets": 1,
        "subscription_previous_secrets": 1,
        "account_secrets": 1,
        "optum_secrets": 1,
    }
    assert await key_ids_in_rows(raw) == {None}  # a dry run changes nothing

    done = await reencrypt(sealed, batch_size=2)
    assert sum(c.rewritten for c in done) == 10
    assert await key_ids_in_rows(raw) == {sealed.ring.current_id}
    raw_account = await raw.fetch_account("acme")
    assert raw_account is not None
    assert raw_account.api_key != API_KEY
    raw_optum = await raw.fetch_optum_connection("optum-1")
    assert raw_optum is not None
    assert raw_optum.connection.client_secret != OPTUM_SECRET
    assert await raw.claim_timeline(PCN) == []  # the number is a blind index now
    await assert_all_readable(sealed, ids)
    assert sum(c.stale for c in await reencrypt(sealed, dry_run=True)) == 0


async def test_data_key_rotation_then_reencrypt_moves_every_row(store: Store) -> None:
    raw = inner_of(store)
    sealed = SealedStore(raw, keks_of(store))
    await sealed.load_keys()
    ids = await write_everything(sealed)
    first = sealed.ring.current_id
    assert await key_ids_in_rows(raw) == {first}
    new = await sealed.rotate_data_key()
    assert sealed.ring.current_id == new.wrapped.dek_id != first
    await assert_all_readable(sealed, ids)  # old rows still open
    counts = await reencrypt(sealed, batch_size=3)
    assert sum(c.rewritten for c in counts) == 10
    assert await key_ids_in_rows(raw) == {new.wrapped.dek_id}
    await assert_all_readable(sealed, ids)


async def test_kek_rotation_rewraps_keys_only_and_a_missing_kek_is_a_clear_error(
    store: Store,
) -> None:
    raw = inner_of(store)
    old = keks_of(store).current
    sealed = SealedStore(raw, KekSet((old,)))
    await sealed.load_keys()
    ids = await write_everything(sealed)
    before = await key_ids_in_rows(raw)

    new = new_kek()
    with pytest.raises(DecryptionError, match=f"key-encryption key {old.kid}, which is not loaded"):
        await SealedStore(raw, KekSet((new,))).load_keys()

    both = SealedStore(raw, KekSet((new, old)))
    await both.load_keys()
    assert len(await both.rewrap_data_keys()) >= 2
    assert await key_ids_in_rows(raw) == before  # no value rewritten
    only_new = SealedStore(raw, KekSet((new,)))
    await only_new.load_keys()
    await assert_all_readable(only_new, ids)


async def test_a_message_sealed_with_a_key_not_stored_is_left_leased_the_rest_go_out(
    store: Store,
) -> None:
    raw = inner_of(store)
    sealed = SealedStore(raw, keks_of(store))
    await sealed.load_keys()
    sub = subscription()
    await sealed.add_subscription(sub)
    good, bad = msg("claim.a"), msg("claim.b")
    job = await claimed_job(sealed, 11)
    assert await complete(sealed, job, JobResult(messages=(good, bad)))
    # Reseal `bad` with a data key the table does not hold (a restore that lost a key).
    (row,) = [
        r for r in await raw.scan_sealed("messages", after_seq=0, limit=100) if r.ids == (bad.id,)
    ]
    foreign_key = new_data_key(T0)
    foreign = Keyring([foreign_key], current_id=foreign_key.id)
    where = aad("outbound_messages", "data", bad.id)
    new = orjson.dumps(seal_json(foreign, bad.data, where)).decode()
    assert await raw.replace_sealed("messages", seq=row.seq, old=row.value, new=new)

    claimed = await claim(sealed)
    assert [c.message.id for c in claimed if c.subscription.id == sub.id] == [good.id]
    with pytest.raises(DecryptionError, match=f"data key {foreign_key.id}, which is not loaded"):
        await sealed.list_messages(limit=10, cursor=None)
    still = await sealed.list_deliveries(DeliveryFilter(message_id=bad.id), limit=5, cursor=None)
    assert [d.status for d in still.items] == [DeliveryStatus.RUNNING]  # leased, not lost
