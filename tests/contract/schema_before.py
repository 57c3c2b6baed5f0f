"""A database the migrations before a given one built, as the store would have left it (each
applied migration recorded), for a test of that migration on the rows it meets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg

from receiver.store.migrations import load_migrations, split_statements


def migrations_before(dialect: str, before: str) -> list[tuple[str, list[str]]]:
    """Every migration of `dialect` named below `before`, split into statements."""
    return [
        (name, split_statements(sql)) for name, sql in load_migrations(dialect) if name < before
    ]


def sqlite_before(path: Path, before: str) -> sqlite3.Connection:
    """A new SQLite file (WAL, foreign keys on) migrated up to `before`; the caller adds its
    rows and closes the connection."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(
        "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    for name, statements in migrations_before("sqlite", before):
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, '')", (name,))
    return conn


async def postgres_before(conn: asyncpg.Connection, schema: str, before: str) -> None:
    """Create `schema` on `conn`, make it the search path and migrate it up to `before`, in
    one transaction as the store runs migrations (0008 drops a temporary table on commit)."""
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.execute(f'SET search_path TO "{schema}"')
    await conn.execute(
        "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    async with conn.transaction():
        for name, statements in migrations_before("postgres", before):
            for statement in statements:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_migrations VALUES ($1, now())", name)
