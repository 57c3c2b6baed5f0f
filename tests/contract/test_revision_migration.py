"""Migration 0016 on a database the earlier migrations built, holding a published event (a
document, a claim entry, two messages, their deliveries and an attempt): every row survives
with its `seq` (SQLite rebuilds the tables; dropping the messages must not take their
deliveries along or leave a foreign key dangling), documents and claim entries become
revision 0, and the store then keeps a second message of the same (event, type). One raw-SQL
set-up per adapter."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from receiver.models import DeliveryFilter
from receiver.store.base import Store
from receiver.store.postgres import PostgresStore
from receiver.store.sql import numbered
from receiver.store.sqlite import SqliteStore
from tests.conftest import POSTGRES_DSN, require_postgres
from tests.contract.schema_before import postgres_before, sqlite_before

pytestmark = pytest.mark.anyio

BEFORE = "0016_corrected_reports"
TXN = "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
PCN = "SYN0001842"
AT = datetime(2025, 3, 21, 8, 12, tzinfo=UTC)
AT_TEXT = "2025-03-21T08:12:00.000000Z"
# (statement with `?` placeholders, values); a timestamp is AT. Two messages inserted and
# deleted leave a gap below the last seq and the counter above it, as deleted rows would: the
# rebuild must keep each seq and the counter.
ROWS: tuple[tuple[str, tuple[object, ...]], ...] = (
    (
        "INSERT INTO inbound_events (id, source, type, account, external_id, transaction_id, "
        "received_at, summary, headers, body) VALUES "
        "('e1', 'stedi', 'transaction.processed.v2', 'acme', 'e1', ?, ?, '{}', '{}', ?)",
        (TXN, AT, b""),
    ),
    (
        "INSERT INTO documents (event_id, account, kind, transaction_id, content_type, body, "
        "created_at) VALUES ('e1', 'acme', '835', ?, 'application/json', ?, ?)",
        (TXN, b"first", AT),
    ),
    (
        "INSERT INTO claim_entries (event_id, ordinal, patient_control_number, kind, data, "
        "created_at) VALUES ('e1', 0, ?, 'remittance', '{\"paid\": \"1.00\"}', ?)",
        (PCN, AT),
    ),
    *(
        (
            "INSERT INTO outbound_messages (id, event_id, type, account, data, created_at) "
            "VALUES (?, 'e1', ?, 'acme', '{}', ?)",
            (message_id, type_, AT),
        )
        for message_id, type_ in (
            ("msg_a", "stedi.transaction.processed"),
            ("msg_gone", "claim.acknowledgment.received"),
            ("msg_b", "claim.remittance.received"),
            ("msg_gone_too", "claim.file.failed"),
        )
    ),
    ("DELETE FROM outbound_messages WHERE id IN ('msg_gone', 'msg_gone_too')", ()),
    (
        "INSERT INTO subscriptions (id, url, type_patterns, account, description, secret, "
        "status, created_at, updated_at) VALUES ('sub_1', 'https://hooks.example.com/in', "
        "'[\"*\"]', NULL, 'billing', 'whsec_x', 'active', ?, ?)",
        (AT, AT),
    ),
    (
        "INSERT INTO deliveries (id, message_id, subscription_id, type, account, status, "
        "attempts, next_attempt_at, last_status, created_at, updated_at) VALUES "
        "('dlv_a', 'msg_a', 'sub_1', 'stedi.transaction.processed', 'acme', 'delivered', 1, ?, "
        "200, ?, ?), ('dlv_b', 'msg_b', 'sub_1', 'claim.remittance.received', 'acme', "
        "'pending', 0, ?, NULL, ?, ?)",
        (AT, AT, AT, AT, AT, AT),
    ),
    (
        "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, "
        "status_code) VALUES ('dlv_a', 1, ?, 12, 200)",
        (AT,),
    ),
)


def sqlite_rows_before(path: Path) -> None:
    conn = sqlite_before(path, BEFORE)
    try:
        for statement, values in ROWS:
            conn.execute(statement, [AT_TEXT if v is AT else v for v in values])
    finally:
        conn.close()


async def postgres_rows_before(schema: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await postgres_before(conn, schema, BEFORE)
        for statement, values in ROWS:
            await conn.execute(numbered(statement), *values)
    finally:
        await conn.close()


async def check_migrated(store: Store) -> None:
    (document,) = await store.fetch_documents("e1")
    assert (document.revision, document.body) == (0, b"first")
    assert [(e.revision, e.data) for e in await store.claim_timeline(PCN)] == [
        (0, {"paid": "1.00"})
    ]
    messages = (await store.list_messages(limit=10, cursor=None)).items
    assert [m.id for m in messages] == ["msg_b", "msg_a"]
    deliveries = (await store.list_deliveries(DeliveryFilter(), limit=10, cursor=None)).items
    assert sorted((d.id, d.message_id, d.status) for d in deliveries) == [
        ("dlv_a", "msg_a", "delivered"),
        ("dlv_b", "msg_b", "pending"),
    ]
    assert [(a.attempt, a.status_code) for a in await store.list_attempts("dlv_a")] == [(1, 200)]
    assert await store.migrate() == []


async def test_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "receiver.db"
    sqlite_rows_before(path)
    store = SqliteStore(path)
    await store.open()
    try:
        assert store.migrated_at_open == [BEFORE]
        await check_migrated(store)
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        seqs = {
            table: [row[0] for row in conn.execute(f"SELECT seq FROM {table} ORDER BY seq")]  # noqa: S608
            for table in ("documents", "claim_entries", "outbound_messages")
        }
        assert seqs == {"documents": [1], "claim_entries": [1], "outbound_messages": [1, 3]}
        counters = dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
        assert (counters["documents"], counters["claim_entries"]) == (1, 1)
        assert counters["outbound_messages"] == 4
    finally:
        conn.close()


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
