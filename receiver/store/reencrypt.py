"""`receiver keys reencrypt`: seal what is still plaintext and reseal what an older data key
sealed, one row per short write (compare-and-set), in batches, never holding a long lock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.crypto import Keyring
from receiver.models import CredentialKind
from receiver.store.datakeys_port import RawValue
from receiver.store.datakeys_sql import SEALED_COLUMNS, SealedColumn
from receiver.store.sealed import SealedStore
from receiver.store.sealed_values import (
    aad,
    is_sealed_json,
    json_needs_reencryption,
    open_json,
    seal_json,
)


@dataclass(frozen=True, slots=True)
class Rewrite:
    """The new value of one row (and, for claim entries, its blind-indexed control number)."""

    value: bytes | str
    key: str | None = None


@dataclass(slots=True)
class ColumnCount:
    """What reencrypt found (and did) in one sealed column."""

    column: str
    scanned: int = 0
    stale: int = 0  # plaintext, or sealed with a data key other than the current one
    rewritten: int = 0
    changed_meanwhile: int = 0  # rewritten by someone else between read and write: left alone


def rewrite(
    ring: Keyring, index_of: Callable[[str], str], col: SealedColumn, raw: RawValue
) -> Rewrite | None:
    """The row's value sealed under the current data key, or None when it already is."""
    if col.kind == "json":
        return _rewrite_json(ring, index_of, col, raw)
    where = aad(col.table, col.column, *raw.ids)
    if not ring.needs_reencryption(raw.value):
        return None
    if isinstance(raw.value, bytes):
        return Rewrite(ring.seal(ring.open(raw.value, aad=where, allow_legacy=True), aad=where))
    plain = ring.open_text(raw.value, aad=where, allow_legacy=True)
    return Rewrite(ring.seal_text(plain, aad=where))


def _rewrite_json(
    ring: Keyring, index_of: Callable[[str], str], col: SealedColumn, raw: RawValue
) -> Rewrite | None:
    stored: Any = orjson.loads(raw.value)
    if not isinstance(stored, dict) or not json_needs_reencryption(ring, stored):
        return None
    ids, key = raw.ids, None
    if col.table == "claim_entries":
        # A plaintext entry holds its control number in the clear too: index it now.
        key = ids[0] if is_sealed_json(stored) else index_of(ids[0])
        ids = (key, *ids[1:])
    plain = open_json(ring, stored, aad(col.table, col.column, *raw.ids))
    sealed = seal_json(ring, plain, aad(col.table, col.column, *ids))
    return Rewrite(orjson.dumps(sealed).decode("utf-8"), key)


async def reencrypt(
    store: SealedStore,
    *,
    batch_size: int = 500,
    dry_run: bool = False,
    progress: Callable[[ColumnCount], None] = lambda _: None,
) -> list[ColumnCount]:
    """Walk every sealed column (and the accounts' secrets) in batches of `batch_size` rows;
    reseal the stale values unless `dry_run`. `progress` hears each batch's running count."""
    counts = []
    for col in SEALED_COLUMNS:
        count = ColumnCount(col.name)
        after = 0
        while found := await store.scan_sealed(col.name, after_seq=after, limit=batch_size):
            for raw in found:
                count.scanned += 1
                planned = rewrite(store.ring, store.pcn_index, col, raw)
                if planned is None:
                    continue
                count.stale += 1
                if dry_run:
                    continue
                key = planned.key if col.table != "claim_entries" else (planned.key or raw.ids[0])
                if await store.replace_sealed(
                    col.name, seq=raw.seq, old=raw.value, new=planned.value, key=key
                ):
                    count.rewritten += 1
                else:
                    count.changed_meanwhile += 1
            after = found[-1].seq
            progress(count)
        counts.append(count)
    counts.append(await _reencrypt_accounts(store, dry_run=dry_run))
    progress(counts[-1])
    counts.append(await _reencrypt_optum(store, dry_run=dry_run))
    progress(counts[-1])
    return counts


async def _reencrypt_accounts(store: SealedStore, *, dry_run: bool) -> ColumnCount:
    """API keys and destination secrets, through the Store verbs: accounts have no seq to walk
    and change only by an operator's command."""
    count = ColumnCount("account_secrets")
    ring = store.ring
    for raw in await store.inner.list_accounts():
        count.scanned += 1
        values = [c.secret for c in raw.credentials if c.kind is CredentialKind.DESTINATION]
        values += [raw.api_key] if raw.api_key else []
        if not any(ring.needs_reencryption(v) for v in values):
            continue
        count.stale += 1
        if dry_run:
            continue
        opened = await store.fetch_account(raw.name)
        if opened is not None:
            await store.update_account(opened)  # sealed under the current data key
            count.rewritten += 1
    return count


async def _reencrypt_optum(store: SealedStore, *, dry_run: bool) -> ColumnCount:
    """Optum client secrets (those stored before encryption too), through the Store verbs as
    the accounts' are."""
    count = ColumnCount("optum_secrets")
    ring = store.ring
    for raw in await store.inner.list_optum_connections():
        count.scanned += 1
        if not ring.needs_reencryption(raw.connection.client_secret):
            continue
        count.stale += 1
        if dry_run:
            continue
        opened = await store.fetch_optum_connection(raw.name)
        if opened is not None and await store.update_optum_connection(opened):
            count.rewritten += 1
        else:
            count.changed_meanwhile += 1
    return count
