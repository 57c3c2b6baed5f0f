"""Migration 0017 on both adapters: rows stored before it stay (a resend of a stored event is
still a duplicate, a pending job is still claimed, a finished one is not), and on SQLite the
dedup lookup reads the key of the one B-tree the table now is (WITHOUT ROWID)."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from receiver.models import InboundEvent, Source
from receiver.store.base import PROCESS_JOB, Store
from receiver.store.migrations import load_migrations, split_statements
from receiver.store.postgres import PostgresStore
from receiver.store.sqlite import SqliteStore
from tests.conftest import POSTGRES_DSN, require_postgres

pytestmark = pytest.mark.anyio

BEFORE = "0017_dedup_without_rowid"
T0 = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
AT = "2026-03-14T15:00:00.000000Z"
KEYS = {"e1": ("stedi:acct:acme:event:E1", "stedi:acct:acme:txn:T1"), "e2": ("optum:task:t2",)}
# (job id, event id, status): j1 waits, j2 is done.
JOBS = (("j1", "e1", "pending"), ("j2", "e2", "done"))


def earlier(dialect: str) -> tuple[list[str], list[str]]:
    """The statements of the migrations before 0017, and their names."""
    statements, names = [], []
    for name, sql in load_migrations(dialect):
        if name >= BEFORE:
            break
        statements.extend(split_statements(sql))
        names.append(name)
    return statements, names


def sqlite_before(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        statements, names = earlier("sqlite")
        for statement in statements:
            conn.execute(statement)
        conn.executemany("INSERT INTO schema_migrations VALUES (?, '')", [(n,) for n in names])
        for event_id, keys in KEYS.items():
            conn.execute(
                "INSERT INTO inbound_events (id, source, type, account, external_id, "
                "received_at, summary, headers, body) "
                "VALUES (?, 'stedi', 'transaction.processed.v2', 'acme', ?, ?, '{}', '{}', x'')",
                (event_id, event_id, AT),
            )
            conn.executemany(
                "INSERT INTO inbound_dedup (key, event_id) VALUES (?, ?)",
                [(key, event_id) for key in keys],
            )
        conn.executemany(
            "INSERT INTO jobs (id, event_id, kind, status, next_attempt_at, created_at, "
            "updated_at) VALUES (?, ?, 'process', ?, ?, ?, ?)",
            [(job_id, event_id, status, AT, AT, AT) for job_id, event_id, status in JOBS],
        )
    finally:
        conn.close()


async def postgres_before(schema: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ "
            "NOT NULL)"
        )
        statements, names = earlier("postgres")
        async with conn.transaction():  # 0008 keeps a temporary table until COMMIT
            for statement in statements:
                await conn.execute(statement)
        await conn.executemany(
            "INSERT INTO schema_migrations VALUES ($1, now())", [(n,) for n in names]
        )
        for event_id, keys in KEYS.items():
            await conn.execute(
                "INSERT INTO inbound_events (id, source, type, account, external_id, "
                "received_at, summary, headers, body) VALUES ($1, 'stedi', "
                "'transaction.processed.v2', 'acme', $1, $2, '{}', '{}', ''::bytea)",
                event_id,
                T0,
            )
            await conn.executemany(
                "INSERT INTO inbound_dedup (key, event_id) VALUES ($1, $2)",
                [(key, event_id) for key in keys],
            )
        await conn.executemany(
            "INSERT INTO jobs (id, event_id, kind, status, next_attempt_at, created_at, "
            "updated_at) VALUES ($1, $2, 'process', $3, $4, $4, $4)",
            [(job_id, event_id, status, T0) for job_id, event_id, status in JOBS],
        )
    finally:
        await conn.close()


def resend(*keys: str) -> InboundEvent:
    return InboundEvent(
        id=f"evt_{uuid.uuid4().hex}",
        source=Source.STEDI,
        type="transaction.processed.v2",
        account="acme",
        external_id="again",
        dedup_keys=keys,
        body=b"{}",
        headers={},
        received_at=T0,
    )


async def check_rows(store: Store) -> None:
    for event_id, keys in KEYS.items():
        for key in keys:
            again = await store.record_inbound(resend(key), PROCESS_JOB)
            assert (again.event_id, again.created) == (event_id, False)
    claimed = await store.claim_due_jobs(now=T0 + timedelta(seconds=1), lease_seconds=60, limit=10)
    assert [job.id for job in claimed] == ["j1"]
    fresh = await store.record_inbound(resend("stedi:acct:acme:event:E3"), PROCESS_JOB)
    assert fresh.created
    assert await store.migrate() == []


async def test_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "receiver.db"
    sqlite_before(path)
    store = SqliteStore(path)
    await store.open()
    try:
        await check_rows(store)
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        dedup = conn.execute(
            "EXPLAIN QUERY PLAN SELECT event_id FROM inbound_dedup WHERE key IN (?, ?) LIMIT 1",
            ("a", "b"),
        ).fetchall()
        btrees = conn.execute(
            "SELECT type, name FROM sqlite_schema WHERE tbl_name = 'inbound_dedup'"
        ).fetchall()
    finally:
        conn.close()
    assert [row[3] for row in dedup] == ["SEARCH inbound_dedup USING PRIMARY KEY (key=?)"]
    assert btrees == [("table", "inbound_dedup")]  # no key index beside it


@pytest.mark.postgres
async def test_postgres() -> None:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(POSTGRES_DSN, schema=schema)
    try:
        await postgres_before(schema)
        await store.open()
        await check_rows(store)
    finally:
        await store.close()
        await store.drop_schema()
