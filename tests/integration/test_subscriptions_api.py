"""/subscriptions and /deliveries over HTTP: create, validate, rotate, remove, enable, list,
show and retry, with their scopes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.fanout_seed import disable_subscription, fetch_subscription, seed_deliveries
from tests.integration.builders import (
    admin,
    bad,
)
from tests.integration.conftest import StartServer
from tests.integration.harness import LiveServer

PUBLIC_URL = "https://93.184.216.34/hooks/receiver?token=abc"


def create(server: LiveServer, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"url": PUBLIC_URL, "types": ["claim.*"], **body}
    resp = server.http.post("/subscriptions", json=payload, headers=auth)
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


@pytest.fixture
def auth(server: LiveServer) -> dict[str, str]:
    return admin(server)


# --- create -----------------------------------------------------------------------------------


def test_create_shows_the_secret_once(server: LiveServer, auth: dict[str, str]) -> None:
    created = create(server, auth, account="acme", description="billing")
    assert created["id"].startswith("sub_")
    assert created["url"] == PUBLIC_URL
    assert created["types"] == ["claim.*"]
    assert created["account"] == "acme"
    assert created["description"] == "billing"
    assert created["status"] == "active"
    assert created["disabled_reason"] is None
    assert created["failing_since"] is None
    assert created["previous_secret_expires_at"] is None
    secret = created["secret"]
    assert secret.startswith("whsec_")
    Webhook(secret)  # a secret Standard Webhooks libraries accept

    shown = server.http.get(f"/subscriptions/{created['id']}", headers=auth)
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    assert secret not in shown.text
    assert shown.json() == {k: v for k, v in created.items() if "secret" not in k}
    listed = server.http.get("/subscriptions", headers=auth)
    assert listed.status_code == 200
    assert secret not in listed.text
    assert [s["id"] for s in listed.json()["items"]] == [created["id"]]
    assert fetch_subscription(server.db_path, created["id"]).secret == secret


def test_create_dedups_patterns_and_allows_every_account(
    server: LiveServer, auth: dict[str, str]
) -> None:
    created = create(server, auth, types=["*", "claim.file.failed", "*"])
    assert created["types"] == ["*", "claim.file.failed"]
    assert created["account"] is None
    assert created["description"] == ""


BAD_BODIES = [
    pytest.param({"types": ["claim.*"]}, "url is required", id="missing-url"),
    pytest.param({"url": 5, "types": ["claim.*"]}, "url is required", id="url-not-string"),
    pytest.param({"url": "http://93.184.216.34/h", "types": ["*"]}, "https", id="http"),
    pytest.param({"url": "https://127.0.0.1/h", "types": ["*"]}, "non-public", id="loopback"),
    pytest.param({"url": "https://10.0.0.1/h", "types": ["*"]}, "non-public", id="private"),
    pytest.param(
        {"url": "https://169.254.169.254/latest/meta-data", "types": ["*"]},
        "non-public",
        id="metadata",
    ),
    pytest.param(
        {"url": "https://[::ffff:127.0.0.1]/h", "types": ["*"]}, "non-public", id="mapped"
    ),
    pytest.param({"url": "https://[::1]:8443/h", "types": ["*"]}, "non-public", id="v6-loop"),
    pytest.param({"url": "https://u:p@93.184.216.34/h", "types": ["*"]}, "userinfo", id="user"),
    pytest.param({"url": "https:///nohost", "types": ["*"]}, "host", id="no-host"),
    pytest.param(
        {"url": "https://93.184.216.34/" + "a" * 2000, "types": ["*"]}, "2000", id="long-url"
    ),
    pytest.param({"url": PUBLIC_URL}, "types", id="missing-types"),
    pytest.param({"url": PUBLIC_URL, "types": []}, "at least one", id="no-types"),
    pytest.param({"url": PUBLIC_URL, "types": "claim.*"}, "list", id="types-string"),
    pytest.param({"url": PUBLIC_URL, "types": ["Claim.*"]}, "'Claim.*'", id="upper"),
    pytest.param({"url": PUBLIC_URL, "types": ["claim*"]}, "'claim*'", id="glob"),
    pytest.param({"url": PUBLIC_URL, "types": ["claim.*.received"]}, "not valid", id="mid"),
    pytest.param({"url": PUBLIC_URL, "types": [7]}, "string", id="type-number"),
    pytest.param(
        {"url": PUBLIC_URL, "types": [f"t{i}" for i in range(21)]}, "at most 20", id="too-many"
    ),
    pytest.param(
        {"url": PUBLIC_URL, "types": ["*"], "account": "nosuch"}, "nosuch", id="unknown-account"
    ),
    pytest.param({"url": PUBLIC_URL, "types": ["*"], "account": 3}, "account", id="account-int"),
    pytest.param({"url": PUBLIC_URL, "types": ["*"], "description": ["x"]}, "description"),
    pytest.param({"url": PUBLIC_URL, "types": ["*"], "type": ["x"]}, "unknown field type"),
]


@pytest.mark.parametrize(("body", "needle"), BAD_BODIES)
def test_bad_input_is_400(
    server: LiveServer, auth: dict[str, str], body: dict[str, Any], needle: str
) -> None:
    resp = server.http.post("/subscriptions", json=body, headers=auth)
    bad(resp, 400, "invalid_request", needle)
    assert server.http.get("/subscriptions", headers=auth).json()["items"] == []


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_non_json_body_is_400(server: LiveServer, auth: dict[str, str], content: bytes) -> None:
    headers = {**auth, "content-type": "application/json"}
    resp = server.http.post("/subscriptions", content=content, headers=headers)
    bad(resp, 400, "invalid_request")


def test_non_json_content_type_is_415(server: LiveServer, auth: dict[str, str]) -> None:
    body = json.dumps({"url": PUBLIC_URL, "types": ["*"]})
    resp = server.http.post(
        "/subscriptions", content=body, headers={**auth, "content-type": "text/plain"}
    )
    bad(resp, 415, "unsupported_media_type")


def test_too_large_body_is_413(server: LiveServer, auth: dict[str, str]) -> None:
    body = json.dumps({"url": PUBLIC_URL, "types": ["*"], "description": "x" * (1 << 20)})
    resp = server.http.post(
        "/subscriptions", content=body, headers={**auth, "content-type": "application/json"}
    )
    bad(resp, 413, "payload_too_large")


def test_insecure_destinations_when_allowed(start_server: StartServer) -> None:
    server = start_server(allow_insecure_destinations=True)
    auth = admin(server)
    for url in ("http://127.0.0.1:9/hook", "https://10.0.0.1/h", "http://[::1]/h"):
        create(server, auth, url=url)
    resp = server.http.post(
        "/subscriptions", json={"url": "ftp://127.0.0.1/x", "types": ["*"]}, headers=auth
    )
    bad(resp, 400, "invalid_request", "scheme")


# --- auth -------------------------------------------------------------------------------------

SUBSCRIPTION_ROUTES = [
    ("GET", "/subscriptions"),
    ("POST", "/subscriptions"),
    ("GET", "/subscriptions/sub_x"),
    ("DELETE", "/subscriptions/sub_x"),
    ("POST", "/subscriptions/sub_x/rotate-secret"),
    ("POST", "/subscriptions/sub_x/enable"),
]
DELIVERY_ROUTES = [
    ("GET", "/deliveries"),
    ("GET", "/deliveries/dlv_x"),
    ("POST", "/deliveries/dlv_x/retry"),
]


@pytest.mark.parametrize(("method", "path"), SUBSCRIPTION_ROUTES + DELIVERY_ROUTES)
def test_routes_need_a_token(server: LiveServer, method: str, path: str) -> None:
    resp = server.http.request(method, path)
    assert resp.status_code == 401
    assert 'error="invalid_token"' in resp.headers["www-authenticate"]


@pytest.mark.parametrize(("method", "path"), SUBSCRIPTION_ROUTES)
def test_subscription_routes_need_subscriptions_write(
    server: LiveServer, method: str, path: str
) -> None:
    resp = server.http.request(method, path, headers=server.bearer("ops"))  # events:read only
    assert resp.status_code == 403
    assert 'scope="subscriptions:write"' in resp.headers["www-authenticate"]


def test_delivery_routes_need_their_scopes(server: LiveServer) -> None:
    writer = admin(server, ("subscriptions:write",))
    for method, path in DELIVERY_ROUTES:
        assert server.http.request(method, path, headers=writer).status_code == 403
    reader = server.bearer("ops")
    resp = server.http.post("/deliveries/dlv_x/retry", headers=reader)
    assert resp.status_code == 403
    assert 'scope="events:replay"' in resp.headers["www-authenticate"]


# --- rotate, remove, enable ---------------------------------------------------------------------


def test_rotate_secret_keeps_the_old_one_for_the_grace_period(
    start_server: StartServer,
) -> None:
    frozen = datetime.now(UTC).replace(microsecond=0)
    server = start_server(clock=lambda: frozen, subscription_secret_grace_seconds=3600)
    auth = admin(server)
    created = create(server, auth)
    resp = server.http.post(f"/subscriptions/{created['id']}/rotate-secret", headers=auth)
    assert resp.status_code == 200, resp.text
    rotated = resp.json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert rotated["previous_secret_expires_at"] == (frozen + timedelta(hours=1)).isoformat()
    stored = fetch_subscription(server.db_path, created["id"])
    assert stored.secret == rotated["secret"]
    assert stored.previous_secret == created["secret"]
    assert stored.signing_secrets(frozen) == (rotated["secret"], created["secret"])
    shown = server.http.get(f"/subscriptions/{created['id']}", headers=auth)
    assert rotated["secret"] not in shown.text


def test_delete_removes_softly(server: LiveServer, auth: dict[str, str]) -> None:
    kept = create(server, auth)
    gone = create(server, auth)
    resp = server.http.delete(f"/subscriptions/{gone['id']}", headers=auth)
    assert resp.status_code == 204
    assert resp.content == b""
    shown = server.http.get(f"/subscriptions/{gone['id']}", headers=auth)
    assert shown.status_code == 200
    assert shown.json()["status"] == "removed"
    listed = server.http.get("/subscriptions", headers=auth).json()["items"]
    assert [s["id"] for s in listed] == [kept["id"]]
    every = server.http.get("/subscriptions", params={"include_removed": "true"}, headers=auth)
    assert [s["id"] for s in every.json()["items"]] == [kept["id"], gone["id"]]
    again = server.http.delete(f"/subscriptions/{gone['id']}", headers=auth)
    assert again.status_code == 204
    for action in ("rotate-secret", "enable"):
        resp = server.http.post(f"/subscriptions/{gone['id']}/{action}", headers=auth)
        bad(resp, 409, "conflict", "removed")


def test_bad_include_removed_is_400(server: LiveServer, auth: dict[str, str]) -> None:
    resp = server.http.get("/subscriptions", params={"include_removed": "yes"}, headers=auth)
    bad(resp, 400, "invalid_request")


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("DELETE", ""), ("POST", "/rotate-secret"), ("POST", "/enable")],
)
def test_unknown_subscription_is_404(
    server: LiveServer, auth: dict[str, str], method: str, suffix: str
) -> None:
    resp = server.http.request(method, f"/subscriptions/sub_unknown{suffix}", headers=auth)
    bad(resp, 404, "not_found")


def test_enable_a_disabled_subscription(server: LiveServer, auth: dict[str, str]) -> None:
    created = create(server, auth)
    disable_subscription(server.db_path, created["id"])
    shown = server.http.get(f"/subscriptions/{created['id']}", headers=auth).json()
    assert shown["status"] == "disabled"
    assert shown["disabled_reason"] == "the endpoint answered 410 Gone"
    assert shown["failing_since"] is not None
    resp = server.http.post(f"/subscriptions/{created['id']}/enable", headers=auth)
    assert resp.status_code == 200, resp.text
    enabled = resp.json()
    assert (enabled["status"], enabled["disabled_reason"], enabled["failing_since"]) == (
        "active",
        None,
        None,
    )
    assert "secret" not in enabled
    assert fetch_subscription(server.db_path, created["id"]).secret == created["secret"]


# --- deliveries ---------------------------------------------------------------------------------


def test_deliveries_list_filter_show_and_retry(server: LiveServer, auth: dict[str, str]) -> None:
    sub = create(server, auth, account="acme")
    seeded = seed_deliveries(server.db_path, sub["id"])

    resp = server.http.get("/deliveries", headers=auth)
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert {d["id"] for d in page["items"]} == {seeded.dead, seeded.pending}
    assert page["next_cursor"] is None
    item = next(d for d in page["items"] if d["id"] == seeded.dead)
    assert set(item) == {
        "id",
        "message_id",
        "subscription_id",
        "type",
        "account",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status",
        "last_error",
        "created_at",
        "updated_at",
    }
    assert (item["status"], item["attempts"], item["last_status"]) == ("dead", 1, 500)
    assert item["subscription_id"] == sub["id"]
    assert item["account"] == "acme"

    def ids(**params: str) -> set[str]:
        resp = server.http.get("/deliveries", params=params, headers=auth)
        assert resp.status_code == 200, resp.text
        return {d["id"] for d in resp.json()["items"]}

    assert ids(status="dead") == {seeded.dead}
    assert ids(status="pending") == {seeded.pending}
    assert ids(status="delivered") == set()
    assert ids(subscription=sub["id"]) == {seeded.dead, seeded.pending}
    assert ids(subscription="sub_other") == set()
    assert ids(type="claim.remittance.received") == {seeded.pending}
    assert ids(message=seeded.messages["claim.acknowledgment.received"]) == {seeded.dead}

    first = server.http.get("/deliveries", params={"limit": "1"}, headers=auth).json()
    assert len(first["items"]) == 1
    rest = server.http.get(
        "/deliveries", params={"limit": "1", "cursor": first["next_cursor"]}, headers=auth
    ).json()
    assert {first["items"][0]["id"], rest["items"][0]["id"]} == {seeded.dead, seeded.pending}
    assert rest["next_cursor"] is None

    shown = server.http.get(f"/deliveries/{seeded.dead}", headers=auth)
    assert shown.status_code == 200
    detail = shown.json()
    assert detail["attempt_count"] == 1
    assert detail["attempts"] == [
        {
            "attempt": 1,
            "started_at": detail["attempts"][0]["started_at"],
            "duration_ms": 42,
            "status_code": 500,
            "response_excerpt": "upstream broke",
            "error": "HTTP 500",
        }
    ]

    retried = server.http.post(f"/deliveries/{seeded.dead}/retry", headers=auth)
    assert retried.status_code == 202, retried.text
    assert retried.json() == {"id": seeded.dead, "status": "pending"}
    after = server.http.get(f"/deliveries/{seeded.dead}", headers=auth).json()
    assert (after["status"], after["attempt_count"], len(after["attempts"])) == ("pending", 1, 1)
    assert after["attempts_since_requeue"] == 0
    again = server.http.post(f"/deliveries/{seeded.dead}/retry", headers=auth)
    bad(again, 409, "conflict", "pending")
    pending = server.http.post(f"/deliveries/{seeded.pending}/retry", headers=auth)
    bad(pending, 409, "conflict")


def test_retry_of_a_removed_subscriptions_delivery_is_409(
    server: LiveServer, auth: dict[str, str]
) -> None:
    sub = create(server, auth)
    seeded = seed_deliveries(server.db_path, sub["id"])
    assert server.http.delete(f"/subscriptions/{sub['id']}", headers=auth).status_code == 204
    kept = server.http.get("/deliveries", params={"subscription": sub["id"]}, headers=auth)
    assert len(kept.json()["items"]) == 2  # history stays readable
    resp = server.http.post(f"/deliveries/{seeded.dead}/retry", headers=auth)
    bad(resp, 409, "conflict", "removed")


def test_unknown_delivery_is_404(server: LiveServer, auth: dict[str, str]) -> None:
    bad(server.http.get("/deliveries/dlv_unknown", headers=auth), 404, "not_found")
    bad(server.http.post("/deliveries/dlv_unknown/retry", headers=auth), 404, "not_found")


@pytest.mark.parametrize(
    "params",
    [{"status": "failed"}, {"limit": "0"}, {"limit": "501"}, {"limit": "x"}, {"cursor": "junk"}],
)
def test_bad_delivery_query_is_400(
    server: LiveServer, auth: dict[str, str], params: dict[str, str]
) -> None:
    bad(server.http.get("/deliveries", params=params, headers=auth), 400, "invalid_request")
