"""Migration 0008 on a database the earlier migrations built, holding a transaction stored
twice (as before it): the first copy of each document and its claim entries stay, the later
ones go, and the store then keeps one per (account, transaction, kind). One raw-SQL set-up per
adapter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from receiver.store.base import Store
from receiver.store.postgres import PostgresStore
from receiver.store.sqlite import SqliteStore
from tests.conftest import POSTGRES_DSN, require_postgres
from tests.contract.schema_before import postgres_before, sqlite_before

pytestmark = pytest.mark.anyio

TXN = "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
PCN = "SYN0001842"
BEFORE = "0008_documents_once_per_transaction"
# (event id, account, document body): e1 and e2 told of one transaction, e3 is another
# account's transaction of the same id.
EVENTS = (("e1", "acme", b"first"), ("e2", "acme", b"second"), ("e3", "other", b"other"))
CLAIM_DATA = '{"paid_amount": "132.40"}'


def sqlite_rows_before(path: Path) -> None:
    conn = sqlite_before(path, BEFORE)
    try:
        for n, (event_id, account, body) in enumerate(EVENTS):
            at = f"2025-03-21T08:1{n}:00.000000Z"
            conn.execute(
                "INSERT INTO inbound_events (id, source, type, account, external_id, "
                "transaction_id, received_at, summary, headers, body) "
                "VALUES (?, 'stedi', 'transaction.processed.v2', ?, ?, ?, ?, '{}', '{}', x'')",
                (event_id, account, event_id, TXN, at),
            )
            conn.execute(
                "INSERT INTO documents (event_id, kind, transaction_id, content_type, body, "
                "created_at) VALUES (?, '835', ?, 'application/json', ?, ?)",
                (event_id, TXN, body, at),
            )
            conn.execute(
                "INSERT INTO claim_entries (event_id, ordinal, patient_control_number, kind, "
                "data, created_at) VALUES (?, 0, ?, 'remittance', ?, ?)",
                (event_id, PCN, CLAIM_DATA, at),
            )
    finally:
        conn.close()


async def postgres_rows_before(schema: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await postgres_before(conn, schema, BEFORE)
        for n, (event_id, account, body) in enumerate(EVENTS):
            at = datetime(2025, 3, 21, 8, 10 + n, tzinfo=UTC)
            await conn.execute(
                "INSERT INTO inbound_events (id, source, type, account, external_id, "
                "transaction_id, received_at, summary, headers, body) "
                "VALUES ($1, 'stedi', 'transaction.processed.v2', $2, $1, $3, $4, '{}', '{}', "
                "''::bytea)",
                event_id,
                account,
                TXN,
                at,
            )
            await conn.execute(
                "INSERT INTO documents (event_id, kind, transaction_id, content_type, body, "
                "created_at) VALUES ($1, '835', $2, 'application/json', $3, $4)",
                event_id,
                TXN,
                body,
                at,
            )
            await conn.execute(
                "INSERT INTO claim_entries (event_id, ordinal, patient_control_number, kind, "
                "data, created_at) VALUES ($1, 0, $2, 'remittance', $3::jsonb, $4)",
                event_id,
                PCN,
                CLAIM_DATA,
                at,
            )
    finally:
        await conn.close()


async def check_migrated(store: Store) -> None:
    assert [d.body for d in await store.fetch_documents("e1")] == [b"first"]
    assert await store.fetch_documents("e2") == []
    assert [d.body for d in await store.fetch_documents("e3")] == [b"other"]
    acme = await store.fetch_transaction_document("acme", TXN, "835")
    assert acme is not None
    assert acme.body == b"first"
    timeline = await store.claim_timeline(PCN)
    assert [e.event_id for e in timeline] == ["e1", "e3"]
    assert await store.migrate() == []


async def test_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "receiver.db"
    sqlite_rows_before(path)
    store = SqliteStore(path)
    await store.open()
    try:
        await check_migrated(store)
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres() -> None:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(POSTGRES_DSN, schema=schema)
    try:
        await postgres_rows_before(schema)
        await store.open()
        await check_migrated(store)
    finally:
        await store.close()
        await store.drop_schema()
