"""POST /oauth/token and the discovery documents, over real HTTP."""

from __future__ import annotations

import io
import json

import httpx
import jwt

from receiver.auth.clients import SCOPES
from tests.integration.harness import LiveServer

FORM = {"grant_type": "client_credentials"}


def _assert_token_response(server: LiveServer, resp: httpx.Response, scope: str) -> str:
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["pragma"] == "no-cache"
    assert resp.headers["x-request-id"]
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == scope
    token: str = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    keys = server.http.get("/.well-known/jwks.json").json()["keys"]
    by_kid = {k["kid"]: k for k in keys}
    assert header["kid"] in by_kid
    claims = jwt.decode(
        token,
        jwt.PyJWK(by_kid[header["kid"]]).key,
        algorithms=["ES256"],
        audience=server.base_url,
        issuer=server.base_url,
    )
    assert claims["exp"] - claims["iat"] == 3600
    return token


def test_client_secret_basic_issues_a_token(server: LiveServer) -> None:
    ops = server.seed.ops
    resp = server.http.post("/oauth/token", data=FORM, auth=(ops.client_id, ops.secret))
    token = _assert_token_response(server, resp, "events:read")
    assert jwt.decode(token, options={"verify_signature": False})["client_id"] == ops.client_id


def test_client_secret_post_issues_a_token(server: LiveServer) -> None:
    optum = server.seed.optum
    resp = server.http.post(
        "/oauth/token",
        data={**FORM, "client_id": optum.client_id, "client_secret": optum.secret},
    )
    _assert_token_response(server, resp, "callbacks:coverage-discovery")


def test_requested_scope_subset_is_granted(server: LiveServer) -> None:
    ops = server.seed.ops
    resp = server.http.post(
        "/oauth/token", data={**FORM, "scope": "events:read"}, auth=(ops.client_id, ops.secret)
    )
    _assert_token_response(server, resp, "events:read")


def test_the_issued_token_opens_a_protected_route(server: LiveServer) -> None:
    resp = server.http.get("/events", headers=server.bearer("ops"))
    assert resp.status_code == 200
    assert resp.json() == {"items": [], "next_cursor": None}


def _oauth_error(resp: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["x-request-id"]
    body: dict[str, str] = resp.json()
    assert body["error"] == code
    assert set(body) == {"error", "error_description"}
    return body


def test_wrong_secret_and_unknown_client_answer_identically(server: LiveServer) -> None:
    ops = server.seed.ops
    wrong = server.http.post("/oauth/token", data=FORM, auth=(ops.client_id, "not-the-secret"))
    unknown = server.http.post(
        "/oauth/token", data=FORM, auth=("cli_DOESNOTEXIST0000000000000", "whatever")
    )
    for resp in (wrong, unknown):
        _oauth_error(resp, 401, "invalid_client")
        assert resp.headers["www-authenticate"] == 'Basic realm="receiver"'
    assert wrong.content == unknown.content
    drop = {"x-request-id", "date"}
    assert {k: v for k, v in wrong.headers.items() if k not in drop} == {
        k: v for k, v in unknown.headers.items() if k not in drop
    }


def test_wrong_secret_via_client_secret_post_is_invalid_client(server: LiveServer) -> None:
    resp = server.http.post(
        "/oauth/token",
        data={**FORM, "client_id": server.seed.ops.client_id, "client_secret": "nope"},
    )
    _oauth_error(resp, 401, "invalid_client")


def test_no_client_authentication_is_invalid_client(server: LiveServer) -> None:
    _oauth_error(server.http.post("/oauth/token", data=FORM), 401, "invalid_client")


def test_both_authentication_methods_at_once_is_invalid_request(server: LiveServer) -> None:
    ops = server.seed.ops
    resp = server.http.post(
        "/oauth/token",
        data={**FORM, "client_id": ops.client_id, "client_secret": ops.secret},
        auth=(ops.client_id, ops.secret),
    )
    _oauth_error(resp, 400, "invalid_request")


def test_missing_grant_type_is_invalid_request(server: LiveServer) -> None:
    ops = server.seed.ops
    resp = server.http.post(
        "/oauth/token", data={"scope": "events:read"}, auth=(ops.client_id, ops.secret)
    )
    _oauth_error(resp, 400, "invalid_request")


def test_password_grant_is_unsupported(server: LiveServer) -> None:
    ops = server.seed.ops
    resp = server.http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "u", "password": "p"},
        auth=(ops.client_id, ops.secret),
    )
    _oauth_error(resp, 400, "unsupported_grant_type")


def test_scope_not_granted_is_invalid_scope(server: LiveServer) -> None:
    ops = server.seed.ops
    resp = server.http.post(
        "/oauth/token",
        data={**FORM, "scope": "events:read audit:read"},
        auth=(ops.client_id, ops.secret),
    )
    _oauth_error(resp, 400, "invalid_scope")


def test_json_body_is_invalid_request(server: LiveServer) -> None:
    ops = server.seed.ops
    resp = server.http.post("/oauth/token", json=FORM, auth=(ops.client_id, ops.secret))
    _oauth_error(resp, 400, "invalid_request")


def test_a_lock_out_refuses_failures_but_never_the_right_secret(
    server: LiveServer, captured: io.StringIO
) -> None:
    """Knowing Optum's client id must not lock Optum out: failures are limited per address."""
    ops = server.seed.ops
    wrong = (ops.client_id, "not-the-secret-5b0c7e")
    assert server.settings.auth_failure_limit == 10
    for _ in range(10):
        assert server.http.post("/oauth/token", data=FORM, auth=wrong).status_code == 401
    throttled = server.http.post("/oauth/token", data=FORM, auth=wrong)
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 300
    assert throttled.json()["error"] == "too_many_requests"
    right = server.http.post("/oauth/token", data=FORM, auth=(ops.client_id, ops.secret))
    assert right.status_code == 200, right.text
    # Another address (loopback is a /8) is not locked out.
    other_address = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=server.base_url, transport=other_address) as other:
        assert other.post("/oauth/token", data=FORM, auth=wrong).status_code == 401

    records = [json.loads(line) for line in captured.getvalue().splitlines()]
    (locked,) = [r for r in records if r["event"] == "oauth.client.locked_out"]
    assert locked["level"] == "warning"
    assert (locked["client_id"], locked["address"]) == (ops.client_id, "127.0.0.1")
    assert "not-the-secret-5b0c7e" not in captured.getvalue()
    assert ops.secret not in captured.getvalue()


def test_authorization_server_metadata(server: LiveServer) -> None:
    resp = server.http.get("/.well-known/oauth-authorization-server")
    assert resp.status_code == 200
    meta = resp.json()
    assert meta["issuer"] == server.base_url
    assert meta["token_endpoint"] == server.base_url + "/oauth/token"
    assert meta["jwks_uri"] == server.base_url + "/.well-known/jwks.json"
    assert meta["grant_types_supported"] == ["client_credentials"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert set(meta["scopes_supported"]) == set(SCOPES)
    assert meta["response_types_supported"] == []
    # The advertised endpoints are live.
    assert server.http.get(meta["jwks_uri"]).status_code == 200


def test_jwks_publishes_one_public_p256_key(server: LiveServer) -> None:
    resp = server.http.get("/.well-known/jwks.json")
    assert resp.status_code == 200
    (key,) = resp.json()["keys"]
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"
    assert key["alg"] == "ES256"
    assert key["use"] == "sig"
    assert "d" not in key


def test_throttled_answer_has_the_oauth_error_shape(server: LiveServer) -> None:
    ops = server.seed.ops
    for _ in range(10):
        server.http.post("/oauth/token", data=FORM, auth=(ops.client_id, "wrong"))
    throttled = server.http.post("/oauth/token", data=FORM, auth=(ops.client_id, "wrong"))
    assert throttled.status_code == 429
    assert set(throttled.json()) == {"error", "error_description"}
    assert throttled.headers.get("cache-control") == "no-store"
