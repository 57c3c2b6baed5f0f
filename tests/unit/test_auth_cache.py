"""The verified-token cache: once-only signature checks, exp/nbf on every hit, LRU, hash keys."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from receiver.auth.cache import TokenCache, token_digest
from receiver.auth.clients import new_client, revoke_client
from receiver.auth.guard import authorize_bearer
from receiver.auth.keys import SigningKey, load_or_create_signing_key, signing_key_from_private
from receiver.auth.tokens import (
    LEEWAY_SECONDS,
    TokenClaims,
    VerifiedToken,
    issue_access_token,
    verify_access_token,
    verify_token_signature,
)
from receiver.errors import BearerError
from receiver.models import Client

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
URL = "https://receiver.example.com"
TTL = 600


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return load_or_create_signing_key(tmp_path_factory.mktemp("keys") / "k.pem")


@pytest.fixture
def client() -> Client:
    return new_client("optum", ["callbacks:coverage-discovery"], NOW)[0]


def issue(key: SigningKey, client: Client, now: datetime = NOW) -> str:
    return issue_access_token(
        key,
        client,
        ("callbacks:coverage-discovery",),
        issuer=URL,
        audience=URL,
        now=now,
        ttl_seconds=TTL,
    )


class CountingCheck(list[str]):
    """The real signature check, remembering every token it was asked about, in order."""

    def __call__(
        self, token: str, keys: Mapping[str, SigningKey], *, issuer: str, audience: str
    ) -> VerifiedToken:
        self.append(token)
        return verify_token_signature(token, keys, issuer=issuer, audience=audience)


@pytest.fixture
def signature_checks() -> CountingCheck:
    """Every token whose signature a cache built with it had checked, in order."""
    return CountingCheck()


def verify(
    cache: TokenCache,
    token: str,
    key: SigningKey,
    now: datetime = NOW,
    *,
    issuer: str = URL,
    audience: str = URL,
) -> TokenClaims:
    return cache.verify(token, {key.kid: key}, issuer=issuer, audience=audience, now=now)


def test_a_token_is_verified_once_then_trusted(
    key: SigningKey, client: Client, signature_checks: CountingCheck
) -> None:
    cache = TokenCache(10, verify_signature=signature_checks)
    token = issue(key, client)
    first = verify(cache, token, key)
    second = verify(cache, token, key, NOW + timedelta(seconds=5))
    assert (
        first
        == second
        == verify_access_token(token, {key.kid: key}, issuer=URL, audience=URL, now=NOW)
    )
    assert signature_checks == [token]
    assert len(cache) == 1


def test_a_hit_is_refused_from_exp_as_a_full_verification_is(
    key: SigningKey, client: Client
) -> None:
    cache = TokenCache(10)
    token = issue(key, client)
    verify(cache, token, key)
    exp = NOW + timedelta(seconds=TTL)
    # Same answer as verify_access_token: exp with its 30 s leeway.
    last_ok = exp + timedelta(seconds=LEEWAY_SECONDS - 1)
    assert verify(cache, token, key, last_ok).client_id == client.client_id
    expired = exp + timedelta(seconds=LEEWAY_SECONDS)
    with pytest.raises(BearerError, match="expired") as info:
        verify(cache, token, key, expired)
    assert info.value.code == "invalid_token"
    assert len(cache) == 0  # the expired entry is gone
    with pytest.raises(BearerError, match="expired"):
        verify(cache, token, key, expired)


def test_a_hit_still_honours_nbf_and_iat(key: SigningKey, client: Client) -> None:
    cache = TokenCache(10)
    token = issue(key, client)
    verify(cache, token, key)
    before = NOW - timedelta(seconds=LEEWAY_SECONDS + 1)  # the clock went back
    with pytest.raises(BearerError, match="not valid yet"):
        verify(cache, token, key, before)


def test_least_recently_used_is_evicted_at_the_size_bound(
    key: SigningKey, client: Client, signature_checks: CountingCheck
) -> None:
    cache = TokenCache(2, verify_signature=signature_checks)
    a, b, c = (issue(key, client) for _ in range(3))
    verify(cache, a, key)
    verify(cache, b, key)
    verify(cache, a, key)  # a is now the most recently used
    verify(cache, c, key)  # evicts b
    assert len(cache) == 2
    assert a in cache
    assert c in cache
    assert b not in cache
    signature_checks.clear()
    verify(cache, b, key)
    assert signature_checks == [b]


def test_entries_are_keyed_by_the_sha256_of_the_token_never_the_token(
    key: SigningKey, client: Client
) -> None:
    cache = TokenCache(10)
    token = issue(key, client)
    verify(cache, token, key)
    assert token_digest(token) == hashlib.sha256(token.encode()).digest()
    assert list(cache._entries) == [token_digest(token)]
    held = repr(cache._entries)
    for part in token.split("."):
        assert part not in held


def test_a_failure_is_never_cached(
    key: SigningKey, client: Client, signature_checks: CountingCheck
) -> None:
    cache = TokenCache(10, verify_signature=signature_checks)
    token = issue(key, client)
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}AAAA"
    for _ in range(2):
        with pytest.raises(BearerError):
            verify(cache, tampered, key)
    assert signature_checks == [tampered, tampered]
    assert len(cache) == 0


def test_a_token_expired_on_first_sight_is_not_stored(key: SigningKey, client: Client) -> None:
    cache = TokenCache(10)
    token = issue(key, client)
    with pytest.raises(BearerError, match="expired"):
        verify(cache, token, key, NOW + timedelta(days=1))
    assert len(cache) == 0


def test_a_hit_is_only_for_the_same_issuer_audience_and_key(
    tmp_path_factory: pytest.TempPathFactory, key: SigningKey, client: Client
) -> None:
    cache = TokenCache(10)
    token = issue(key, client)
    verify(cache, token, key)
    with pytest.raises(BearerError, match="audience"):
        verify(cache, token, key, audience="https://other.example.com")
    with pytest.raises(BearerError, match="issuer"):
        verify(cache, token, key, issuer="https://other.example.com")
    other = load_or_create_signing_key(tmp_path_factory.mktemp("other") / "k.pem")
    impostor = SigningKey(kid=key.kid, private_key=other.private_key, public_jwk=key.public_jwk)
    with pytest.raises(BearerError, match="signature"):
        verify(cache, token, impostor)
    # An equal key object that is not the same one is a miss that verifies again, and passes.
    same = signing_key_from_private(key.private_key)
    assert verify(cache, token, same).client_id == client.client_id


def test_size_zero_turns_the_cache_off(
    key: SigningKey, client: Client, signature_checks: CountingCheck
) -> None:
    cache = TokenCache(0, verify_signature=signature_checks)
    token = issue(key, client)
    verify(cache, token, key)
    verify(cache, token, key)
    assert len(cache) == 0
    assert signature_checks == []  # straight to verify_access_token, every time


def test_an_overlong_token_is_refused_without_being_hashed_or_stored(key: SigningKey) -> None:
    cache = TokenCache(10)
    with pytest.raises(BearerError, match="malformed"):
        verify(cache, "a" * 10_000, key)
    assert len(cache) == 0


class FakeClients:
    def __init__(self, *clients: Client) -> None:
        self.clients = {c.client_id: c for c in clients}

    async def fetch_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)


@pytest.mark.anyio
async def test_the_guard_still_refuses_a_cached_token_of_a_revoked_client(
    key: SigningKey, client: Client
) -> None:
    cache = TokenCache(10)
    clients = FakeClients(client)
    token = issue(key, client)

    async def authorize() -> TokenClaims:
        return await authorize_bearer(
            store=clients,
            keys={key.kid: key},
            authorization=f"Bearer {token}",
            scope="callbacks:coverage-discovery",
            issuer=URL,
            audience=URL,
            now=NOW,
            tokens=cache,
        )

    assert (await authorize()).client_id == client.client_id
    assert token in cache
    clients.clients[client.client_id] = revoke_client(client, NOW)
    with pytest.raises(BearerError, match="revoked"):
        await authorize()
