"""Shared fixtures: the anyio backend, fixture files, and a Store per adapter (SQLite file,
PostgreSQL in a schema of its own). PostgreSQL tests skip visibly when no server answers,
unless RECEIVER_REQUIRE_POSTGRES=1, which turns the skip into a failure."""

from __future__ import annotations

import functools
import os
import socket
import ssl
import uuid
from collections.abc import AsyncIterator
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


async def open_postgres_store() -> Store:
    """A PostgresStore in a fresh schema of its own, opened."""
    from receiver.store.postgres import PostgresStore

    store = PostgresStore(POSTGRES_DSN, schema=f"t_{uuid.uuid4().hex[:12]}")
    await store.open()
    return store


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "sealed-sqlite"]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An open, empty store of each adapter kind, and SQLite behind encryption at rest (the
    contract holds through SealedStore too)."""
    if request.param == "sqlite":
        opened: Store = SqliteStore(tmp_path / "receiver.db")
        await opened.open()
    elif request.param == "sealed-sqlite":
        if getattr(request.module, "ADAPTER_ONLY", False):
            pytest.skip("runs raw SQL on an adapter's own database")
        from receiver.crypto import KekSet, new_kek
        from receiver.store.sealed import SealedStore

        opened = SealedStore(SqliteStore(tmp_path / "receiver.db"), KekSet((new_kek(),)))
        await opened.open()
    else:
        require_postgres()
        opened = await open_postgres_store()
    try:
        yield opened
    finally:
        await opened.close()
        if request.param == "postgres":
            await opened.drop_schema()  # type: ignore[attr-defined]
