"""Migration 0009 on both adapters: unscoped Stedi dedup keys stored before it are rewritten
per local account, so a resend of an event stored before the upgrade is still a duplicate, and
the same event sent to another account is not."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from receiver.ids import new_id
from receiver.intake.stedi import dedup_key, transaction_dedup_key
from receiver.models import InboundEvent, Source
from receiver.store.base import PROCESS_JOB, Store
from receiver.store.migrations import load_migrations, split_statements
from receiver.store.sqlite import SqliteStore
from tests.conftest import POSTGRES_DSN

pytestmark = pytest.mark.anyio
ADAPTER_ONLY = True  # raw SQL on the adapter's database: not run through SealedStore

MIGRATION = "0009_account_uuid_scoped_dedup"
T0 = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
TXN = "8b2e4f6a-1c3d-4e5f-9a7b-0c1d2e3f4a62"
FILE = "3c5e7a9b-1d3f-4a5c-b7e9-0f2d4b6a8c06"
TRANSACTION_TYPE = "transaction.processed.v2"
# The keys the code before 0009 wrote, and the events that hold them.
OLD_KEYS = {
    "acme": ("stedi:event:E1", f"stedi:txn:{TXN}:{TRANSACTION_TYPE}"),
    "globex": ("stedi:event:E2", f"stedi:file:{FILE}:file.failed.v2"),
}
UNTOUCHED = ("stedi-destination:acme:msg_1", "optum:task:task-1:success")


def event(account: str | None, *keys: str, source: Source = Source.STEDI) -> InboundEvent:
    return InboundEvent(
        id=new_id("evt"),
        source=source,
        type=TRANSACTION_TYPE,
        account=account,
        external_id=new_id("ext"),
        dedup_keys=keys,
        body=b"{}",
        headers={},
        received_at=T0,
    )


async def execute_raw(store: Store, *statements: str) -> list[tuple[object, ...]]:
    """Run SQL on the store's database from a connection of its own; the last one's rows."""
    found: list[tuple[object, ...]] = []
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path, timeout=5)
        try:
            for statement in statements:
                found = conn.execute(statement).fetchall()
            conn.commit()
        finally:
            conn.close()
        return found
    schema = store.schema  # type: ignore[attr-defined]
    pg = await asyncpg.connect(POSTGRES_DSN, server_settings={"search_path": schema})
    try:
        for statement in statements:
            found = [tuple(row) for row in await pg.fetch(statement)]
    finally:
        await pg.close()
    return found


async def undo_0009(store: Store) -> None:
    """Put the database back in the state before 0009 (its column gone, not recorded)."""
    await execute_raw(
        store,
        "ALTER TABLE accounts DROP COLUMN stedi_account_uuid",
        f"DELETE FROM schema_migrations WHERE version = '{MIGRATION}'",  # noqa: S608
    )


async def test_stored_keys_are_scoped_and_still_deduplicate(store: Store) -> None:
    stored = {}
    for account, keys in OLD_KEYS.items():
        recorded = await store.record_inbound(event(account, *keys), PROCESS_JOB)
        stored[account] = recorded.event_id
    await store.record_inbound(event("acme", UNTOUCHED[0], source=Source.STEDI_DESTINATION), None)
    await store.record_inbound(event(None, UNTOUCHED[1], source=Source.OPTUM), None)
    await undo_0009(store)

    assert await store.migrate() == [MIGRATION]

    keys = await execute_raw(store, "SELECT key FROM inbound_dedup ORDER BY key")
    assert [key for (key,) in keys] == sorted(
        [
            dedup_key("acme", "event", "E1"),
            transaction_dedup_key("acme", TXN, TRANSACTION_TYPE),
            dedup_key("globex", "event", "E2"),
            dedup_key("globex", "file", FILE, "file.failed.v2"),
            *UNTOUCHED,
        ]
    )
    # A resend after the upgrade carries the new keys: each one finds the stored event.
    for account, kind, parts in [
        ("acme", "event", ("E1",)),
        ("acme", "txn", (TXN, TRANSACTION_TYPE)),
        ("globex", "event", ("E2",)),
        ("globex", "file", (FILE, "file.failed.v2")),
    ]:
        resend = await store.record_inbound(
            event(account, dedup_key(account, kind, *parts)), PROCESS_JOB
        )
        assert (resend.created, resend.event_id) == (False, stored[account])
    # The same ids sent to another account are that account's own events.
    elsewhere = await store.record_inbound(
        event("globex", dedup_key("globex", "event", "E1")), PROCESS_JOB
    )
    assert elsewhere.created is True


SHAPE_QUERIES = {
    "sqlite": (
        "PRAGMA table_info(inbound_dedup)",
        "PRAGMA foreign_key_list(inbound_dedup)",
        "PRAGMA index_list(inbound_dedup)",
    ),
    "postgres": (
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'inbound_dedup' "
        "ORDER BY ordinal_position",
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'inbound_dedup'::regclass ORDER BY conname",
    ),
}


def dialect(store: Store) -> str:
    return "sqlite" if isinstance(store, SqliteStore) else "postgres"


async def dedup_table_shape(store: Store) -> list[list[tuple[object, ...]]]:
    """The columns, keys and references of the store's inbound_dedup."""
    return [await execute_raw(store, query) for query in SHAPE_QUERIES[dialect(store)]]


async def shape_before_0009(store: Store, tmp_path: Path) -> list[list[tuple[object, ...]]]:
    """inbound_dedup's shape in a scratch database built by the migrations before 0009."""
    kind = dialect(store)
    statements = [
        statement
        for name, sql in load_migrations(kind)
        if name < MIGRATION
        for statement in split_statements(sql)
    ]
    if kind == "sqlite":
        conn = sqlite3.connect(tmp_path / "before-0009.db")
        try:
            for statement in statements:
                conn.execute(statement)
            return [conn.execute(query).fetchall() for query in SHAPE_QUERIES[kind]]
        finally:
            conn.close()
    schema = f"before_0009_{new_id('s')[-10:].lower()}"
    pg = await asyncpg.connect(POSTGRES_DSN)
    try:
        await pg.execute(f'CREATE SCHEMA "{schema}"; SET search_path TO "{schema}"')
        # One transaction, as the store applies migrations (0008's temporary table lives
        # until COMMIT).
        async with pg.transaction():
            for statement in statements:
                await pg.execute(statement)
        return [[tuple(row) for row in await pg.fetch(query)] for query in SHAPE_QUERIES[kind]]
    finally:
        await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pg.close()


async def test_the_rebuilt_table_has_the_shape_the_first_migration_gave_it(
    store: Store, tmp_path: Path
) -> None:
    before = await shape_before_0009(store, tmp_path)
    assert all(before)  # the queries see the table
    assert await dedup_table_shape(store) == before
