"""POST /callbacks/optum/coverage-discovery: Bearer tokens from our own endpoint, stored rows."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from receiver.auth.clients import revoke_client
from receiver.auth.keys import load_or_create_signing_key
from receiver.auth.tokens import issue_access_token
from receiver.store.sqlite import SqliteStore
from tests.conftest import fixture_bytes
from tests.integration.conftest import StartServer
from tests.integration.harness import OPTUM_BODY, LiveServer, optum_fixture_headers

PATH = "/callbacks/optum/coverage-discovery"


def _post(server: LiveServer, token: str | None, body: bytes | None = None) -> httpx.Response:
    return server.http.post(
        PATH,
        content=fixture_bytes(OPTUM_BODY) if body is None else body,
        headers=optum_fixture_headers(token),
    )


def _assert_invalid_token(resp: httpx.Response) -> None:
    assert resp.status_code == 401, resp.text
    assert 'error="invalid_token"' in resp.headers["www-authenticate"]
    assert resp.headers["www-authenticate"].startswith("Bearer ")
    assert resp.json()["error"] == "invalid_token"
    assert resp.headers["x-request-id"]


def _optum_events(server: LiveServer) -> list[dict[str, object]]:
    return server.events(source="optum")


def test_fixture_is_stored_exactly_with_one_pending_job(server: LiveServer) -> None:
    resp = _post(server, server.token("optum"))
    assert resp.status_code == 204, resp.text
    assert resp.content == b""
    assert resp.headers["x-request-id"]

    (listed,) = _optum_events(server)
    event = server.event(str(listed["id"]))
    assert event["body"] == fixture_bytes(OPTUM_BODY).decode("utf-8")
    assert event["source"] == "optum"
    assert event["type"] == "coverage_discovery.task"
    assert event["external_id"] == "3e5a7c9e-1b3d-4f5a-8c7e-9a1b3c5d7e20"
    assert event["status"] == "received"
    headers = event["headers"]
    assert headers["x-optum-tenant-id"] == "4f6a8c0e-2b4d-4f6a-8c0e-2b4d6f8a0c11"
    assert headers["x-optum-correlation-id"] == "syn-corr-000771"
    assert "authorization" not in headers
    assert event["account"] == "4f6a8c0e-2b4d-4f6a-8c0e-2b4d6f8a0c11"
    assert event["summary"]["task_status"] == "success"

    jobs = server.http.get("/jobs", params={"event_id": event["id"]}, headers=server.bearer())
    assert jobs.status_code == 200
    (job,) = jobs.json()["items"]
    assert job["kind"] == "process"
    assert job["status"] == "pending"
    assert job["attempts"] == 0
    assert [j["id"] for j in event["jobs"]] == [job["id"]]


def test_resent_task_is_acknowledged_and_stored_once(server: LiveServer) -> None:
    token = server.token("optum")
    assert _post(server, token).status_code == 204
    assert _post(server, token).status_code == 204
    (event,) = _optum_events(server)
    jobs = server.http.get("/jobs", params={"event_id": event["id"]}, headers=server.bearer())
    assert len(jobs.json()["items"]) == 1


def test_same_task_with_a_new_status_is_a_new_event(server: LiveServer) -> None:
    token = server.token("optum")
    payload = json.loads(fixture_bytes(OPTUM_BODY))
    payload["status"] = "in_progress"
    assert _post(server, token, json.dumps(payload).encode()).status_code == 204
    assert _post(server, token).status_code == 204
    assert len(_optum_events(server)) == 2


def test_missing_token_is_invalid_token(server: LiveServer) -> None:
    _assert_invalid_token(_post(server, None))
    assert _optum_events(server) == []


def test_garbage_token_is_invalid_token(server: LiveServer) -> None:
    _assert_invalid_token(_post(server, "not.a.jwt"))
    _assert_invalid_token(_post(server, "eyJhbGciOiJIUzI1NiJ9.c3ludGhldGlj.c3ludGhldGljLXNpZw"))


def test_non_bearer_scheme_is_invalid_token(server: LiveServer) -> None:
    headers = optum_fixture_headers(None)
    headers["Authorization"] = "Basic " + base64.b64encode(b"a:b").decode()
    resp = server.http.post(PATH, content=fixture_bytes(OPTUM_BODY), headers=headers)
    _assert_invalid_token(resp)


def test_expired_token_is_invalid_token(server: LiveServer) -> None:
    key = load_or_create_signing_key(server.key_path)
    token = issue_access_token(
        key,
        server.seed.optum.client,
        ("callbacks:coverage-discovery",),
        issuer=server.base_url,
        audience=server.base_url,
        now=datetime.now(UTC) - timedelta(hours=2),
        ttl_seconds=60,
    )
    _assert_invalid_token(_post(server, token))


def test_token_for_another_audience_is_invalid_token(server: LiveServer) -> None:
    key = load_or_create_signing_key(server.key_path)
    token = issue_access_token(
        key,
        server.seed.optum.client,
        ("callbacks:coverage-discovery",),
        issuer=server.base_url,
        audience="https://elsewhere.example.invalid",
        now=datetime.now(UTC),
        ttl_seconds=600,
    )
    _assert_invalid_token(_post(server, token))


def test_token_signed_by_another_key_is_invalid_token(server: LiveServer, tmp_path: Path) -> None:
    other = load_or_create_signing_key(tmp_path / "other-key.pem")
    token = issue_access_token(
        other,
        server.seed.optum.client,
        ("callbacks:coverage-discovery",),
        issuer=server.base_url,
        audience=server.base_url,
        now=datetime.now(UTC),
        ttl_seconds=600,
    )
    _assert_invalid_token(_post(server, token))
    # Same, but claiming the server's own kid: the signature must still fail.
    real_kid = load_or_create_signing_key(server.key_path).kid
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(
        claims, other.private_key, algorithm="ES256", headers={"typ": "at+jwt", "kid": real_kid}
    )
    _assert_invalid_token(_post(server, forged))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_signed(header: dict[str, str], claims: dict[str, object], key: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def test_hs256_token_keyed_with_the_public_key_is_invalid_token(server: LiveServer) -> None:
    key = load_or_create_signing_key(server.key_path)
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, object] = {
        "iss": server.base_url,
        "aud": server.base_url,
        "sub": server.seed.optum.client_id,
        "client_id": server.seed.optum.client_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "forged",
        "scope": "callbacks:coverage-discovery",
    }
    header = {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _assert_invalid_token(_post(server, _hand_signed(header, claims, pem)))
    jwk_json = json.dumps(key.public_jwk).encode()
    _assert_invalid_token(_post(server, _hand_signed(header, claims, jwk_json)))
    # alg "none" with an empty signature, too.
    unsigned = f"{_b64(json.dumps({**header, 'alg': 'none'}).encode())}."
    unsigned += f"{_b64(json.dumps(claims).encode())}."
    _assert_invalid_token(_post(server, unsigned))


def test_token_without_the_callback_scope_is_insufficient_scope(server: LiveServer) -> None:
    resp = _post(server, server.token("ops"))
    assert resp.status_code == 403, resp.text
    challenge = resp.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="callbacks:coverage-discovery"' in challenge
    assert resp.json()["error"] == "insufficient_scope"
    assert _optum_events(server) == []


def test_client_revoked_after_issuing_is_refused(start_server: StartServer) -> None:
    # The revocation comes from another process (as the CLI's would), so this process's
    # directory cache is off here to see it at once; with the cache on it takes up to
    # RECEIVER_DIRECTORY_CACHE_SECONDS (tests/integration/test_auth_caches.py).
    server = start_server(directory_cache_seconds=0)
    token = server.token("optum")
    assert _post(server, token).status_code == 204

    async def revoke() -> None:
        store = SqliteStore(server.db_path)
        await store.open()
        try:
            client = await store.fetch_client(server.seed.optum.client_id)
            assert client is not None
            await store.update_client(revoke_client(client, datetime.now(UTC)))
        finally:
            await store.close()

    asyncio.run(revoke())
    _assert_invalid_token(_post(server, token))
    # And no new token either.
    optum = server.seed.optum
    resp = server.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(optum.client_id, optum.secret),
    )
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


@pytest.mark.parametrize("missing", ["id", "status"])
def test_task_without_its_dedup_fields_is_400(server: LiveServer, missing: str) -> None:
    payload = json.loads(fixture_bytes(OPTUM_BODY))
    del payload[missing]
    resp = _post(server, server.token("optum"), json.dumps(payload).encode())
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"
