"""The Bearer guard: header parsing, token verification, client revocation and scopes."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest

from receiver.auth.clients import new_client, revoke_client
from receiver.auth.guard import authorize_bearer
from receiver.auth.keys import SigningKey, load_or_create_signing_key
from receiver.auth.tokens import TokenClaims, issue_access_token
from receiver.errors import BearerError
from receiver.models import Client

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
URL = "https://receiver.example.com"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClients:
    """An in-memory ClientLookup."""

    def __init__(self, *clients: Client) -> None:
        self.clients = {c.client_id: c for c in clients}

    async def fetch_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_or_create_signing_key(tmp_path_factory.mktemp("keys") / "k.pem")


@pytest.fixture
def client() -> Client:
    return new_client("ops", ["events:read", "events:replay"], NOW)[0]


@pytest.fixture
def store(client: Client) -> FakeClients:
    return FakeClients(client)


def token_for(key: SigningKey, client: Client, scopes: tuple[str, ...] = ("events:read",)) -> str:
    return issue_access_token(
        key, client, scopes, issuer=URL, audience=URL, now=NOW, ttl_seconds=600
    )


async def authorize(
    store: FakeClients,
    key: SigningKey,
    authorization: str | None,
    scope: str = "events:read",
    now: datetime = NOW,
) -> TokenClaims:
    return await authorize_bearer(
        store=store,
        keys={key.kid: key},
        authorization=authorization,
        scope=scope,
        issuer=URL,
        audience=URL,
        now=now,
    )


async def rejected(coro: Awaitable[TokenClaims], code: str = "invalid_token") -> BearerError:
    with pytest.raises(BearerError) as info:
        await coro
    assert info.value.code == code
    assert info.value.status_code == (403 if code == "insufficient_scope" else 401)
    assert info.value.headers["WWW-Authenticate"].startswith('Bearer realm="receiver"')
    assert f'error="{code}"' in info.value.headers["WWW-Authenticate"]
    return info.value


async def test_valid_token_with_scope(store: FakeClients, key: SigningKey, client: Client) -> None:
    claims = await authorize(store, key, "Bearer " + token_for(key, client))
    assert claims.client_id == client.client_id
    assert "events:read" in claims.scopes


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
async def test_scheme_case_insensitive(
    store: FakeClients, key: SigningKey, client: Client, scheme: str
) -> None:
    claims = await authorize(store, key, f"{scheme} {token_for(key, client)}")
    assert claims.client_id == client.client_id


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic abc", "Token abc", "Bearer a b", "abc"]
)
async def test_missing_or_malformed_header(
    store: FakeClients, key: SigningKey, header: str | None
) -> None:
    await rejected(authorize(store, key, header))


async def test_invalid_token(store: FakeClients, key: SigningKey, client: Client) -> None:
    head, payload, _ = token_for(key, client).split(".")
    await rejected(authorize(store, key, f"Bearer {head}.{payload}.AAAA"))


async def test_expired_token(store: FakeClients, key: SigningKey, client: Client) -> None:
    token = token_for(key, client)
    await rejected(authorize(store, key, f"Bearer {token}", now=NOW + timedelta(hours=1)))


async def test_revoked_client(store: FakeClients, key: SigningKey, client: Client) -> None:
    token = token_for(key, client)
    store.clients[client.client_id] = revoke_client(client, NOW)
    error = await rejected(authorize(store, key, f"Bearer {token}"))
    assert error.detail == "client revoked"


async def test_deleted_client(key: SigningKey, client: Client) -> None:
    error = await rejected(authorize(FakeClients(), key, f"Bearer {token_for(key, client)}"))
    assert error.detail == "client revoked"


async def test_insufficient_scope(store: FakeClients, key: SigningKey, client: Client) -> None:
    token = token_for(key, client, ("events:read",))
    error = await rejected(
        authorize(store, key, f"Bearer {token}", scope="events:replay"), "insufficient_scope"
    )
    assert 'scope="events:replay"' in error.headers["WWW-Authenticate"]


async def test_scope_no_longer_granted_to_client(
    store: FakeClients, key: SigningKey, client: Client
) -> None:
    token = token_for(key, client, ("events:read", "events:replay"))
    store.clients[client.client_id] = dataclasses.replace(client, scopes=("events:read",))
    await rejected(
        authorize(store, key, f"Bearer {token}", scope="events:replay"), "insufficient_scope"
    )


async def test_error_does_not_echo_token(
    store: FakeClients, key: SigningKey, client: Client
) -> None:
    token = token_for(key, client)
    error = await rejected(authorize(store, key, f"Bearer {token}", now=NOW + timedelta(days=1)))
    assert token not in error.detail
    assert token not in error.headers["WWW-Authenticate"]
