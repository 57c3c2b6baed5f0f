"""Encryption at rest end to end: canaries sent in a webhook body, a report, a claim, a message
and secrets are found by a byte search of neither the SQLite file and its WAL nor a pg_dump,
while the API returns them intact; a missing data key is a 503 that loses nothing."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from receiver.crypto import create_kek, load_kek
from receiver.enrollment.submissions import StoredConnection
from receiver.models import ClaimEntry, Document, JobFilter, JobResult, OutboundMessage
from receiver.store.base import Store
from receiver.store.postgres import PostgresStore
from receiver.store.sealed import SealedStore
from receiver.upstream.optum import OptumConnection
from tests.conftest import POSTGRES_DSN, fixture_bytes, require_postgres
from tests.integration.harness import (
    WHSEC,
    LiveServer,
    Seed,
    seed_store,
    start_live_server,
)

F835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"
BODY_CANARY = "CANARY-BODY-5e1d9f"
HEADER_CANARY = "CANARY-HEADER-0b7c44"
REPORT_CANARY = "CANARY-REPORT-a4c2e8"
CLAIM_CANARY = "CANARY-CLAIM-77d0b1"
MESSAGE_CANARY = "CANARY-MESSAGE-3f9e20"
PCN = "CANARY-PCN-190a6c"
API_KEY = "CANARY-STEDI-KEY-c81f02"
OPTUM_SECRET = "CANARY-OPTUM-SECRET-6d2a93"
REPORT = b'{"report": "' + REPORT_CANARY.encode() + b'",  "spacing" : "kept exactly" }'
HOOK_URL = "https://93.184.216.34/hooks/in"


@dataclass
class Rig:
    server: LiveServer
    store_of: Callable[[], SealedStore]
    database_bytes: Callable[[], bytes]


def sqlite_rig(tmp_path: Path) -> Rig:
    kek_path = tmp_path / "kek"
    create_kek(kek_path)
    # No store given: the app's composition root builds the sealed store from the settings.
    server = start_live_server(tmp_path, encryption_key_path=str(kek_path))
    db = server.db_path

    def database_bytes() -> bytes:
        """The file and its WAL (and shared memory), as a copied volume would hold them."""
        return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))

    return Rig(server, lambda: SealedStore(_sqlite(db), load_kek(kek_path)), database_bytes)


def _sqlite(path: Path) -> Store:
    from receiver.store.sqlite import SqliteStore

    return SqliteStore(path)


def postgres_rig(tmp_path: Path, schema: str) -> Rig:
    require_postgres()
    kek_path = tmp_path / "kek"
    keks = create_kek(kek_path)

    async def seed() -> Seed:
        store = PostgresStore(POSTGRES_DSN, schema=schema)
        await store.open()
        try:
            return await seed_store(store)
        finally:
            await store.close()

    server = start_live_server(
        tmp_path,
        store=SealedStore(PostgresStore(POSTGRES_DSN, schema=schema), keks),
        seeder=lambda: asyncio.run(seed()),
        database_url=POSTGRES_DSN,
        encryption_key_path=str(kek_path),
    )

    def database_bytes() -> bytes:
        dump = shutil.which("pg_dump")
        assert dump, "pg_dump is needed for this test"
        parts = urlsplit(POSTGRES_DSN)
        return subprocess.run(
            [
                dump,
                "-h",
                parts.hostname or "127.0.0.1",
                "-p",
                str(parts.port or 5432),
                "-U",
                parts.username or "postgres",
                "-n",
                schema,
                parts.path.lstrip("/"),
            ],  # fmt: skip
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout

    return Rig(
        server,
        lambda: SealedStore(PostgresStore(POSTGRES_DSN, schema=schema), keks),
        database_bytes,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    if request.param == "sqlite":
        made = sqlite_rig(tmp_path)
        yield made
        made.server.stop()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        made = postgres_rig(tmp_path, schema)
        yield made
        made.server.stop()
    finally:
        asyncio.run(PostgresStore(POSTGRES_DSN, schema=schema).drop_schema())


def on(rig: Rig, action: Callable[[SealedStore], object]) -> object:
    async def run() -> object:
        store = rig.store_of()
        await store.open()
        try:
            return await action(store)  # type: ignore[misc]
        finally:
            await store.close()

    return asyncio.run(run())


async def finish_with_report(store: SealedStore, event_id: str) -> None:
    """What the worker does with an 835: store the report, its claims and a message."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    jobs = await store.claim_due_jobs(now=now, lease_seconds=60, limit=10)
    (job,) = [j for j in jobs if j.event_id == event_id]
    assert job.lease_until is not None
    event = await store.fetch_event(event_id, with_body=False)
    assert event is not None
    txn = event.transaction_id or "txn"
    result = JobResult(
        documents=(Document("835", txn, REPORT),),
        claims=(ClaimEntry(PCN, "remittance", {"paid": CLAIM_CANARY}, "835"),),
        messages=(
            OutboundMessage(
                id=f"msg_{uuid.uuid4().hex}",
                type="claim.remittance.received",
                account="acme",
                data={"note": MESSAGE_CANARY},
                created_at=now,
            ),
        ),
    )
    assert await store.complete_job(job.id, now=now, lease_until=job.lease_until, result=result)
    account = await store.fetch_account("acme")
    assert account is not None
    await store.update_account(replace(account, api_key=API_KEY))


def test_canaries_are_sealed_at_rest_and_read_back_intact(rig: Rig) -> None:
    server = rig.server
    raw = fixture_bytes(F835).replace(b"{", b'{"x-canary": "%s",' % BODY_CANARY.encode(), 1)
    headers = {
        "content-type": "application/json",
        "x-api-key": "acme-inbound-secret",
        "x-canary-note": HEADER_CANARY,
    }
    posted = server.stedi(raw, headers=headers)
    assert posted.status_code == 200, posted.text
    event_id = posted.json()["event_id"]
    on(rig, lambda store: finish_with_report(store, event_id))
    created = server.http.post(
        "/subscriptions",
        json={"url": HOOK_URL, "types": ["claim.*"]},
        headers=server.bearer("admin"),
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]

    # The API answers with the plaintext, exactly.
    assert server.event(event_id)["body"] == raw.decode("utf-8")
    timeline = server.http.get(f"/claims/{PCN}", headers=server.bearer())
    assert timeline.status_code == 200, timeline.text
    assert [e["data"] for e in timeline.json()["timeline"]] == [{"paid": CLAIM_CANARY}]

    async def read_back(store: SealedStore) -> None:
        (doc,) = await store.fetch_documents(event_id)
        assert doc.body == REPORT
        (message,) = (await store.list_messages(limit=10, cursor=None)).items
        assert message.data == {"note": MESSAGE_CANARY}
        account = await store.fetch_account("acme")
        assert account is not None
        assert account.api_key == API_KEY
        (sub,) = await store.list_subscriptions()
        assert sub.secret == secret
        (job,) = (await store.list_jobs(JobFilter(event_id=event_id), limit=5, cursor=None)).items
        assert job.status == "done"

    async def add_optum(store: SealedStore) -> None:
        connection = OptumConnection(
            name="optum", tenant_id="t-1", client_id="c-1", client_secret=OPTUM_SECRET
        )
        await store.add_optum_connection(StoredConnection(connection, datetime.now(UTC)))
        found = await store.fetch_optum_connection("optum")
        assert found is not None
        assert found.connection.client_secret == OPTUM_SECRET

    on(rig, add_optum)
    on(rig, read_back)

    stored = rig.database_bytes()
    assert event_id.encode() in stored  # the search does see the rows: ids stay clear
    canaries = [BODY_CANARY, HEADER_CANARY, REPORT_CANARY, CLAIM_CANARY, MESSAGE_CANARY]
    for canary in [*canaries, PCN, API_KEY, OPTUM_SECRET, secret, secret.removeprefix("whsec_")]:
        assert canary.encode() not in stored, canary

    # Seeded before encryption, the destination secret was sealed when the account was
    # updated; reencrypt then finds nothing left to do, and everything still reads.
    assert WHSEC.encode() not in stored
    on(rig, _reencrypt)
    assert server.event(event_id)["body"] == raw.decode("utf-8")
    on(rig, read_back)


async def _reencrypt(store: SealedStore) -> None:
    from receiver.store.reencrypt import reencrypt

    counts = await reencrypt(store)
    assert [c.column for c in counts if c.stale] == []


def test_a_missing_data_key_is_a_503_that_loses_nothing(tmp_path: Path) -> None:
    first = start_live_server(tmp_path)
    posted = first.stedi(fixture_bytes(F835))
    assert posted.status_code == 200, posted.text
    event_id = posted.json()["event_id"]
    first.stop()
    db = first.db_path
    with sqlite3.connect(db) as conn:
        saved = conn.execute("SELECT * FROM data_keys WHERE purpose = 'data'").fetchall()
        conn.execute("DELETE FROM data_keys WHERE purpose = 'data'")  # e.g. a bad restore
    ((lost_id, *_),) = saved

    def restart() -> LiveServer:
        return start_live_server(
            tmp_path,
            store=SealedStore(_sqlite(db), load_kek(first.settings.resolved_encryption_key_path)),
            seeder=lambda: first.seed,
        )

    second = restart()  # starts: it makes a new data key for new writes
    try:
        resp = second.http.get(f"/events/{event_id}", headers=second.bearer())
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"] == "decryption_failed"
        assert lost_id in resp.json()["detail"]
        assert b"ISA" not in resp.content
        assert second.http.get("/events", headers=second.bearer()).status_code == 503
    finally:
        second.stop()

    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO data_keys VALUES (?, ?, ?, ?, ?)", saved)
    third = restart()
    try:
        assert third.event(event_id)["body"] == fixture_bytes(F835).decode("utf-8")
    finally:
        third.stop()
