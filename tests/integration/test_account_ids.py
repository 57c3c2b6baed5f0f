"""Over real HTTP: an account whose webhooks carry a 12-digit Stedi account id, with its UUID
set by the CLI, accepts webhooks and event destinations naming either form, and no other."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner
from standardwebhooks.webhooks import Webhook

from receiver.cli import main
from receiver.store.sqlite import SqliteStore
from tests.conftest import fixture_bytes
from tests.integration.conftest import StartServer
from tests.integration.harness import (
    DESTINATION_BODY,
    DESTINATION_TIMESTAMP,
    STEDI_ACCOUNT_ID,
    WHSEC,
    LiveServer,
    destination_fixture_headers,
)

F835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"
LEGACY_ID = "123456789012"
FIXED_NOW = datetime.fromtimestamp(DESTINATION_TIMESTAMP, UTC) + timedelta(hours=1)


def accepted(resp: httpx.Response) -> str:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "accepted"
    event_id: str = body["event_id"]
    return event_id


class TestStediIdForms:
    @pytest.fixture
    def server(self, start_server: StartServer) -> LiveServer:
        """acme's webhooks carry a 12-digit id; its UUID is set with the CLI."""
        server = start_server(clock=lambda: FIXED_NOW, directory_cache_seconds=0)

        async def legacy_id() -> None:
            store = SqliteStore(server.db_path)
            await store.open()
            try:
                acme = await store.fetch_account("acme")
                assert acme is not None
                await store.update_account(replace(acme, stedi_account_id=LEGACY_ID))
            finally:
                await store.close()

        asyncio.run(legacy_id())
        result = CliRunner().invoke(
            main,
            ["accounts", "rotate", "acme", "--stedi-account-uuid", STEDI_ACCOUNT_ID.upper()],
            env={"RECEIVER_DATABASE_URL": server.settings.database_url},
        )
        assert result.exit_code == 0, result.output
        return server

    def test_a_webhook_naming_the_legacy_id_is_accepted(self, server: LiveServer) -> None:
        payload = json.loads(fixture_bytes(F835))
        payload["event"]["account"] = LEGACY_ID
        accepted(server.stedi(payload))

    def test_a_webhook_naming_the_uuid_is_accepted(self, server: LiveServer) -> None:
        accepted(server.stedi(fixture_bytes(F835)))

    def test_an_event_destination_naming_the_uuid_is_accepted(self, server: LiveServer) -> None:
        body = fixture_bytes(DESTINATION_BODY)
        resp = server.http.post(
            "/webhooks/stedi/acme/event-destinations",
            content=body,
            headers=destination_fixture_headers(),
        )
        event_id = accepted(resp)
        assert server.event(event_id)["summary"]["stedi_account_id"] == LEGACY_ID

    @pytest.mark.parametrize("other", ["123456789013", "99999999-9999-4999-8999-999999999999"])
    def test_any_other_id_is_403(self, server: LiveServer, other: str) -> None:
        payload = json.loads(fixture_bytes(F835))
        payload["event"]["account"] = other
        assert server.stedi(payload).status_code == 403
        body = json.loads(fixture_bytes(DESTINATION_BODY))
        body["account"] = other
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = destination_fixture_headers()
        headers["webhook-id"] = "msg_other"
        headers["webhook-timestamp"] = str(int(FIXED_NOW.timestamp()))
        headers["webhook-signature"] = Webhook(WHSEC).sign("msg_other", FIXED_NOW, raw.decode())
        resp = server.http.post(
            "/webhooks/stedi/acme/event-destinations", content=raw, headers=headers
        )
        assert resp.status_code == 403
        assert server.events() == []
