"""Over real HTTP: dedup keys are scoped to the local account, so nothing of one account's
events answers or suppresses another's, before or after the upgrade that scoped them."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiver.ids import new_id
from receiver.models import InboundEvent, Source
from receiver.store.base import PROCESS_JOB
from receiver.store.sqlite import SqliteStore
from tests.conftest import fixture_bytes
from tests.integration.harness import (
    BASIC_PASSWORD,
    BASIC_USER,
    STEDI_WEBHOOK_FIXTURES,
    LiveServer,
    basic,
    start_live_server,
)

FILE_FAILED = "stedi/file-failed-v2.webhook.json"
JSON = {"content-type": "application/json"}
BASICCO = {**JSON, "authorization": basic(BASIC_USER, BASIC_PASSWORD)}


def answer(resp: httpx.Response) -> tuple[str, str]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return body["status"], body["event_id"]


def to_basicco(server: LiveServer, body: bytes | dict[str, Any]) -> httpx.Response:
    return server.stedi(body, account="basicco", headers=BASICCO)


def with_new_event_id(name: str) -> dict[str, Any]:
    """The fixture as Stedi re-emits it: a new event id, the same transaction or file."""
    payload: dict[str, Any] = json.loads(fixture_bytes(name))
    payload["event"]["id"] = new_id("stedi")
    return payload


class TestScopedPerAccount:
    def test_a_file_failed_with_acmes_file_execution_id_is_basiccos_own(
        self, server: LiveServer
    ) -> None:
        _, acme_event = answer(server.stedi(fixture_bytes(FILE_FAILED)))

        resp = to_basicco(server, with_new_event_id(FILE_FAILED))

        status, event_id = answer(resp)
        assert status == "accepted"
        assert acme_event not in resp.text
        assert server.event(event_id)["account"] == "basicco"
        assert [e["account"] for e in server.events()] == ["basicco", "acme"]

    @pytest.mark.parametrize("name", STEDI_WEBHOOK_FIXTURES)
    def test_the_same_event_to_another_account_is_accepted(
        self, server: LiveServer, name: str
    ) -> None:
        """Every key (event id, transaction, file execution) is scoped: the exact same bytes
        are a new event for another account and a duplicate only within each account."""
        raw = fixture_bytes(name)
        _, acme_event = answer(server.stedi(raw))

        status, basicco_event = answer(to_basicco(server, raw))

        assert status == "accepted"
        assert basicco_event != acme_event
        assert answer(server.stedi(raw)) == ("duplicate", acme_event)
        assert answer(to_basicco(server, raw)) == ("duplicate", basicco_event)
        # Stedi's re-emit (a new event id, the same transaction or file) within basicco.
        assert answer(to_basicco(server, with_new_event_id(name))) == ("duplicate", basicco_event)


def record_before_the_upgrade(path: Path) -> str:
    """A database as the code before migration 0009 left it: acme's file.failed stored under
    the unscoped keys. Returns that event's id."""

    async def build() -> str:
        store = SqliteStore(path)
        await store.open()
        try:
            envelope = json.loads(fixture_bytes(FILE_FAILED))["event"]
            event = InboundEvent(
                id=new_id("evt"),
                source=Source.STEDI,
                type="file.failed.v2",
                account="acme",
                external_id=envelope["id"],
                dedup_keys=(
                    f"stedi:event:{envelope['id']}",
                    f"stedi:file:{envelope['detail']['fileExecutionId']}:file.failed.v2",
                ),
                body=fixture_bytes(FILE_FAILED),
                headers={},
                received_at=datetime.now(UTC),
            )
            await store.record_inbound(event, PROCESS_JOB)
            return event.id
        finally:
            await store.close()

    event_id = asyncio.run(build())
    with sqlite3.connect(path) as conn:  # undo 0009: its column gone, not recorded
        conn.execute("ALTER TABLE accounts DROP COLUMN stedi_account_uuid")
        conn.execute(
            "DELETE FROM schema_migrations WHERE version = '0009_account_uuid_scoped_dedup'"
        )
    conn.close()
    return event_id


def test_an_event_stored_before_the_upgrade_is_still_a_duplicate(tmp_path: Path) -> None:
    stored = record_before_the_upgrade(tmp_path / "receiver.db")
    server = start_live_server(tmp_path)  # migrates (0009) and seeds acme and basicco
    try:
        assert answer(server.stedi(fixture_bytes(FILE_FAILED))) == ("duplicate", stored)
        assert answer(server.stedi(with_new_event_id(FILE_FAILED))) == ("duplicate", stored)
        status, other = answer(to_basicco(server, fixture_bytes(FILE_FAILED)))
        assert (status, other != stored) == ("accepted", True)
    finally:
        server.stop()
