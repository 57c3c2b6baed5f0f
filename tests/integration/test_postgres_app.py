"""The app on PostgreSQL: intake, dedup and the ops API through a PostgresStore."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from receiver.store.postgres import PostgresStore
from tests.conftest import POSTGRES_DSN, fixture_bytes, require_postgres
from tests.integration.conftest import StartServer
from tests.integration.harness import LiveServer, Seed, seed_store

pytestmark = pytest.mark.postgres

F835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"


async def _seed(schema: str) -> Seed:
    store = PostgresStore(POSTGRES_DSN, schema=schema)
    await store.open()
    try:
        return await seed_store(store)
    finally:
        await store.close()


@pytest.fixture
def pg_server(start_server: StartServer, tmp_path: Path) -> Iterator[LiveServer]:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        # Unopened: the app's lifespan opens (and migrates) it.
        live = start_server(
            store=PostgresStore(POSTGRES_DSN, schema=schema),
            seeder=lambda: asyncio.run(_seed(schema)),
            database_url=POSTGRES_DSN,
        )
        yield live
        live.stop()  # close the app's pool before the schema goes
    finally:
        asyncio.run(PostgresStore(POSTGRES_DSN, schema=schema).drop_schema())


def test_stedi_webhook_dedup_and_read_back(pg_server: LiveServer) -> None:
    raw = fixture_bytes(F835)
    first = pg_server.stedi(raw)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted"
    again = pg_server.stedi(raw)
    assert again.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}

    (listed,) = pg_server.events()
    assert listed["id"] == first.json()["event_id"]
    event = pg_server.event(listed["id"])
    assert event["body"] == raw.decode("utf-8")
    assert event["transaction_set"] == "835"
    assert "x-api-key" not in event["headers"]
    (job,) = event["jobs"]
    assert (job["kind"], job["status"]) == ("process", "pending")
    assert pg_server.http.get("/readyz").status_code == 200


def test_auth_and_paging_on_postgres(pg_server: LiveServer) -> None:
    assert pg_server.stedi(fixture_bytes(F835), headers={}).status_code == 401
    for name in (
        "stedi/transaction-processed-v2.outbound-837p.webhook.json",
        "stedi/transaction-processed-v2.inbound-277ca.webhook.json",
        F835,
    ):
        assert pg_server.stedi(fixture_bytes(name)).status_code == 200
    page = pg_server.http.get("/events", params={"limit": "2"}, headers=pg_server.bearer())
    assert page.status_code == 200
    assert len(page.json()["items"]) == 2
    rest = pg_server.http.get(
        "/events",
        params={"limit": "2", "cursor": page.json()["next_cursor"]},
        headers=pg_server.bearer(),
    ).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    bad = pg_server.http.get("/events", params={"cursor": "junk"}, headers=pg_server.bearer())
    assert bad.status_code == 400


def test_cursor_beyond_64_bits_is_400_on_postgres(pg_server: LiveServer) -> None:
    huge = base64.urlsafe_b64encode(b"s" + b"9" * 30).decode().rstrip("=")
    resp = pg_server.http.get("/events", params={"cursor": huge}, headers=pg_server.bearer())
    assert resp.status_code == 400, resp.text
