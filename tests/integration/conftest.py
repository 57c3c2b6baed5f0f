"""Integration fixtures: a live app under uvicorn per test (see `harness.py`)."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from receiver.logs import configure_logging
from receiver.store.postgres import PostgresStore
from tests.conftest import POSTGRES_DSN, SharedSchema, require_postgres
from tests.integration.harness import LiveServer, Seed, seed_store, start_live_server

StartServer = Callable[..., LiveServer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start live servers (each in a directory of its own); all are stopped at teardown."""
    started: list[LiveServer] = []

    def start(**kwargs: object) -> LiveServer:
        directory = tmp_path / f"server{len(started)}"
        directory.mkdir()
        server = start_live_server(directory, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def server(start_server: StartServer) -> LiveServer:
    """A live app on a fresh seeded SQLite file, real clock, default settings."""
    return start_server()


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """structlog writing JSON at debug level into a buffer; the previous set-up restored."""
    saved = structlog.get_config()
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    try:
        yield stream
    finally:
        structlog.configure(**saved)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def start_serving(
    request: pytest.FixtureRequest, start_server: StartServer, shared_schema: SharedSchema
) -> Iterator[StartServer]:
    """Start `receiver serve` in one process (the app with its worker and dispatcher) on each
    store, acme holding `stedi_api_key`; on PostgreSQL the first server takes the shared,
    emptied schema and any other one a schema of its own."""
    schemas: list[str] = []  # made for this test, dropped after it
    shared: list[str] = []  # the shared schema, if this test took it
    started: list[LiveServer] = []

    def start(*, stedi_api_key: str | None = None, **settings: object) -> LiveServer:
        if request.param == "sqlite":
            return start_server(run_workers=True, stedi_api_key=stedi_api_key, **settings)
        require_postgres()
        schema = asyncio.run(shared_schema.take())
        if schema is None:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            schemas.append(schema)
        else:
            shared.append(schema)

        async def seed() -> Seed:
            store = PostgresStore(POSTGRES_DSN, schema=schema)
            await store.open()
            try:
                return await seed_store(store, stedi_api_key=stedi_api_key)
            finally:
                await store.close()

        server = start_server(
            store=PostgresStore(POSTGRES_DSN, schema=schema),
            seeder=lambda: asyncio.run(seed()),
            database_url=POSTGRES_DSN,
            run_workers=True,
            **settings,
        )
        server.store_of = lambda: PostgresStore(POSTGRES_DSN, schema=schema)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()  # close the app's pool before its schema goes
    for schema in schemas:
        asyncio.run(PostgresStore(POSTGRES_DSN, schema=schema).drop_schema())
    if shared:
        shared_schema.give_back()
