"""Signing key rotation on a running server, on an injected clock: the new key is published at
once, signs after the delay, and the old one verifies until its last token expires, then goes;
all without a restart (the server re-reads the key file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt

from receiver.auth.keyring import rotated
from receiver.auth.keys import load_key_file, write_key_file
from receiver.auth.tokens import LEEWAY_SECONDS, issue_access_token
from tests.integration.conftest import StartServer
from tests.integration.harness import LiveServer

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TTL = 600
DELAY = 300


class MovableClock:
    """A clock the test sets; the server reads it for every decision."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def set(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)


def published(server: LiveServer) -> list[str]:
    resp = server.http.get("/.well-known/jwks.json")
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "public, max-age=300"
    return [key["kid"] for key in resp.json()["keys"]]


def new_token(server: LiveServer) -> str:
    ops = server.seed.ops
    resp = server.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(ops.client_id, ops.secret)
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def read_events(server: LiveServer, token: str) -> httpx.Response:
    return server.http.get("/events", headers={"authorization": f"Bearer {token}"})


def test_rotation_publishes_then_switches_then_retires(start_server: StartServer) -> None:
    clock = MovableClock()
    server = start_server(clock=clock, token_ttl_seconds=TTL, signing_key_reload_seconds=0)
    (old_kid,) = published(server)
    path = server.key_path
    write_key_file(
        path,
        rotated(load_key_file(path), T0, delay_seconds=DELAY, token_ttl_seconds=TTL),
        replace=True,
    )

    # Published at once, but nothing is signed with it before the delay.
    (_, new_kid) = published(server)
    assert published(server) == [old_kid, new_kid]
    clock.set(DELAY - 1)
    last_old = new_token(server)
    assert kid_of(last_old) == old_kid

    clock.set(DELAY)
    first_new = new_token(server)
    assert kid_of(first_new) == new_kid
    assert read_events(server, first_new).status_code == 200
    assert read_events(server, last_old).status_code == 200

    # The last token the old key signed expires at DELAY - 1 + TTL: the key verifies until then.
    clock.set(DELAY - 1 + TTL + LEEWAY_SECONDS - 1)
    assert read_events(server, last_old).status_code == 200
    assert published(server) == [old_kid, new_kid]

    # A token of the old key that had not expired yet (made here with the key, for a longer
    # life than the server gives) shows the key itself is what is refused afterwards.
    (old_key, _) = (entry.key for entry in load_key_file(path))
    long_lived = issue_access_token(
        old_key,
        server.seed.ops.client,
        ("events:read",),
        issuer=server.base_url,
        audience=server.base_url,
        now=clock(),
        ttl_seconds=10 * TTL,
    )
    assert read_events(server, long_lived).status_code == 200
    clock.set(DELAY + TTL + LEEWAY_SECONDS)
    assert published(server) == [new_kid]
    refused = read_events(server, long_lived)
    assert refused.status_code == 401
    assert "token key is unknown" in refused.text
    assert read_events(server, new_token(server)).status_code == 200
