"""The token and directory caches over real HTTP: changes made by another process (the CLI)
take effect within RECEIVER_DIRECTORY_CACHE_SECONDS, judged by the app's injected clock."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import httpx

from receiver.auth.clients import revoke_client
from receiver.intake.stedi import hash_credential
from receiver.models import AccountCredential, CredentialKind
from receiver.store.sqlite import SqliteStore
from tests.conftest import fixture_bytes
from tests.integration.conftest import StartServer
from tests.integration.harness import (
    INBOUND_HEADER,
    INBOUND_SECRET,
    OPTUM_BODY,
    STEDI_WEBHOOK_FIXTURES,
    LiveServer,
    optum_fixture_headers,
)

NEW_SECRET = "acme-rotated-inbound-secret"


class FakeClock:
    """The app's clock, moved by the test (an attribute swap: safe across the server thread)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _optum(server: LiveServer, token: str) -> httpx.Response:
    return server.http.post(
        "/callbacks/optum/coverage-discovery",
        content=fixture_bytes(OPTUM_BODY),
        headers=optum_fixture_headers(token),
    )


def _stedi(server: LiveServer, secret: str) -> httpx.Response:
    headers = {"content-type": "application/json", INBOUND_HEADER: secret}
    return server.stedi(fixture_bytes(STEDI_WEBHOOK_FIXTURES[0]), headers=headers)


def _in_another_store(server: LiveServer, change: str) -> None:
    """Change the database through a store of its own, as the CLI in another process does."""

    async def run() -> None:
        store = SqliteStore(server.db_path)
        await store.open()
        try:
            if change == "revoke optum":
                client = await store.fetch_client(server.seed.optum.client_id)
                assert client is not None
                await store.update_client(revoke_client(client, datetime.now(UTC)))
            elif change == "replace acme's credential":
                account = await store.fetch_account("acme")
                assert account is not None
                now = datetime.now(UTC)
                kept = tuple(c for c in account.credentials if c.kind is not CredentialKind.HEADER)
                new = AccountCredential(
                    CredentialKind.HEADER, INBOUND_HEADER, hash_credential(NEW_SECRET), now
                )
                await store.update_account(dataclasses.replace(account, credentials=(*kept, new)))
        finally:
            await store.close()

    asyncio.run(run())


def test_a_revoked_clients_token_is_refused_once_the_ttl_has_passed(
    start_server: StartServer,
) -> None:
    clock = FakeClock()
    server = start_server(clock=clock, directory_cache_seconds=1)
    token = server.token("optum")
    assert _optum(server, token).status_code == 204
    assert _optum(server, token).status_code == 204  # the same token, again (cached)

    _in_another_store(server, "revoke optum")
    # Within the TTL this process has not seen the revocation yet: that is the trade-off.
    assert _optum(server, token).status_code == 204
    clock.advance(1)
    resp = _optum(server, token)
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in resp.headers["www-authenticate"]
    clock.advance(5)
    assert _optum(server, token).status_code == 401


def test_a_replaced_account_credential_takes_effect_after_the_ttl(
    start_server: StartServer,
) -> None:
    clock = FakeClock()
    server = start_server(clock=clock, directory_cache_seconds=1)
    assert _stedi(server, INBOUND_SECRET).status_code == 200

    _in_another_store(server, "replace acme's credential")
    assert _stedi(server, INBOUND_SECRET).status_code == 200  # still the cached account
    assert _stedi(server, NEW_SECRET).status_code == 401
    clock.advance(1)
    assert _stedi(server, NEW_SECRET).status_code == 200
    assert _stedi(server, INBOUND_SECRET).status_code == 401


def test_with_the_directory_cache_off_a_revocation_is_seen_at_once(
    start_server: StartServer,
) -> None:
    server = start_server(directory_cache_seconds=0)
    token = server.token("optum")
    assert _optum(server, token).status_code == 204
    _in_another_store(server, "revoke optum")
    assert _optum(server, token).status_code == 401


def test_an_unknown_account_stays_404_and_a_token_cache_of_zero_still_verifies(
    start_server: StartServer,
) -> None:
    server = start_server(token_cache_size=0)
    for _ in range(2):
        assert _stedi(server, INBOUND_SECRET).status_code == 200
        assert server.stedi(b"{}", account="nobody").status_code == 404
        assert _optum(server, server.token("optum")).status_code == 204
