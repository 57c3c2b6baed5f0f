"""Shared fixtures: the anyio backend, fixture files, and a Store per adapter (SQLite file,
PostgreSQL in a migrated schema emptied for each test). PostgreSQL tests skip visibly when no
server answers, unless RECEIVER_REQUIRE_POSTGRES=1, which turns the skip into a failure."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import socket
import ssl
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from receiver.store.base import Store
from receiver.store.sqlite import SqliteStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
POSTGRES_DSN = os.environ.get(
    "RECEIVER_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def fixture_bytes(name: str) -> bytes:
    """A fixture file's exact bytes, e.g. `fixture_bytes("stedi/report-835-era.json")`."""
    return (FIXTURES / name).read_bytes()


@functools.cache
def default_tls() -> ssl.SSLContext:
    """One default TLS context for test clients (`httpx.Client(verify=default_tls())`): httpx
    loads the CA bundle again for each client it makes (tens of ms), and these clients only
    speak plain HTTP over loopback."""
    return ssl.create_default_context()


@functools.cache
def _migrated_sqlite() -> tempfile.TemporaryDirectory[str]:
    """An empty SQLite database as SqliteStore.open migrates it, made once per run (outside any
    event loop) and kept, being cached, until the interpreter exits."""
    made = tempfile.TemporaryDirectory(prefix="receiver-sqlite-")

    async def migrate() -> None:
        store = SqliteStore(Path(made.name) / "receiver.db")
        await store.open()
        await store.close()

    asyncio.run(migrate())
    return made


def copy_migrated_sqlite(path: Path) -> Path:
    """A copy at `path` of the empty, migrated SQLite database (file mode kept): opening it
    finds every migration applied, as on a file opened before. Migrating a fresh file (15
    migrations, a commit each) was a good part of each SQLite test's set-up."""
    shutil.copy2(Path(_migrated_sqlite().name) / "receiver.db", path)
    return path


@pytest.fixture(scope="session")
def migrated_sqlite() -> Callable[[Path], Path]:
    """`copy_migrated_sqlite`, its database made here, before any test's event loop runs."""
    _migrated_sqlite()
    return copy_migrated_sqlite


def postgres_reachable() -> bool:
    parts = urlsplit(POSTGRES_DSN)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    """Skip (or, with RECEIVER_REQUIRE_POSTGRES=1, fail) when PostgreSQL is not reachable."""
    if postgres_reachable():
        return
    message = f"PostgreSQL not reachable at {POSTGRES_DSN}"
    if os.environ.get("RECEIVER_REQUIRE_POSTGRES") == "1":
        pytest.fail(message + " and RECEIVER_REQUIRE_POSTGRES=1")
    pytest.skip(message)


async def open_postgres_store(schema: str | None = None) -> Store:
    """A PostgresStore in `schema`, or else in a fresh schema of its own, opened (migrated)."""
    from receiver.store.postgres import PostgresStore

    store = PostgresStore(POSTGRES_DSN, schema=schema or f"t_{uuid.uuid4().hex[:12]}")
    await store.open()
    return store


# Every row of every table but schema_migrations deleted and every sequence restarted: the
# schema as a fresh migration leaves it (no migration inserts rows). In the replica role, so
# neither foreign keys nor audit_log's append-only triggers fire (needs a superuser, as CI).
EMPTY_SCHEMA = """
DO $$
DECLARE found record;
BEGIN
    FOR found IN SELECT tablename FROM pg_tables
            WHERE schemaname = current_schema() AND tablename <> 'schema_migrations' LOOP
        EXECUTE format('DELETE FROM %I', found.tablename);
    END LOOP;
    FOR found IN SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() LOOP
        EXECUTE format('ALTER SEQUENCE %I RESTART', found.sequencename);
    END LOOP;
END $$
"""


async def empty_schema(schema: str) -> None:
    """Put `schema` back as a fresh migration leaves it (see EMPTY_SCHEMA)."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_DSN, server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(EMPTY_SCHEMA)
    finally:
        await conn.close()


class SharedSchema:
    """One migrated schema that PostgreSQL tests take in turn (the `store` fixture, the first
    app a test serves on PostgreSQL), emptied before each: creating and migrating a schema per
    test was most of those tests' time. While it is taken, `take` gives None: the caller
    makes a fresh schema, as before."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.taken = False

    async def take(self) -> str | None:
        """The schema, empty (created and migrated on first use), or None while taken."""
        if self.taken:
            return None
        if self.name is None:
            store = await open_postgres_store()
            await store.close()
            self.name = store.schema  # type: ignore[attr-defined]
        else:
            await empty_schema(self.name)
        self.taken = True
        return self.name

    def give_back(self) -> None:
        self.taken = False

    def drop(self) -> None:
        if self.name is not None:
            from receiver.store.postgres import PostgresStore

            asyncio.run(PostgresStore(POSTGRES_DSN, schema=self.name).drop_schema())


@pytest.fixture(scope="session")
def shared_schema() -> Iterator[SharedSchema]:
    shared = SharedSchema()
    yield shared
    shared.drop()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "sealed-sqlite"]
)
async def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    shared_schema: SharedSchema,
    migrated_sqlite: Callable[[Path], Path],
) -> AsyncIterator[Store]:
    """An open, empty store of each adapter kind, and SQLite behind encryption at rest (the
    contract holds through SealedStore too). On PostgreSQL, the shared schema, emptied; a
    module setting ADAPTER_ONLY (raw SQL, DDL too) gets a fresh schema per test."""
    own_schema = getattr(request.module, "ADAPTER_ONLY", False)
    if request.param == "sqlite":
        opened: Store = SqliteStore(migrated_sqlite(tmp_path / "receiver.db"))
        await opened.open()
    elif request.param == "sealed-sqlite":
        if own_schema:
            pytest.skip("runs raw SQL on an adapter's own database")
        from receiver.crypto import KekSet, new_kek
        from receiver.store.sealed import SealedStore

        sqlite = SqliteStore(migrated_sqlite(tmp_path / "receiver.db"))
        opened = SealedStore(sqlite, KekSet((new_kek(),)))
        await opened.open()
    else:
        require_postgres()
        shared = None if own_schema else await shared_schema.take()
        opened = await open_postgres_store(shared)
    try:
        yield opened
    finally:
        await opened.close()
        if request.param == "postgres":
            if shared is None:
                await opened.drop_schema()  # type: ignore[attr-defined]
            else:
                shared_schema.give_back()
