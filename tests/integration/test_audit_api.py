"""The audit trail over HTTP: every ops action and every read of PHI through the API leaves
one row naming the client and the request id, and only `audit:read` may list them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from receiver.auth.clients import new_client
from tests.audit_seed import BODY_MARK, PCN, claim_told
from tests.fanout_seed import seed_deliveries
from tests.integration.builders import JSON, bad, on_store
from tests.integration.conftest import StartServer
from tests.integration.harness import LiveServer

OPS_SCOPES = ("subscriptions:write", "events:read", "events:replay")


def client_with(server: LiveServer, name: str, *scopes: str) -> tuple[str, dict[str, str]]:
    """A client added to the running server's store: its id and Bearer headers."""
    client, secret = new_client(name, scopes, datetime.now(UTC))
    on_store(server.db_path, lambda store: store.add_client(client))
    resp = server.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
    )
    assert resp.status_code == 200, resp.text
    return client.client_id, {"Authorization": f"Bearer {resp.json()['access_token']}"}


def audit(server: LiveServer, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    resp = server.http.get("/audit", params={"limit": "500", **params}, headers=headers)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def test_every_api_action_and_phi_read_leaves_a_row(start_server: StartServer) -> None:
    server = start_server(allow_insecure_destinations=True)
    ops_id, ops = client_with(server, "ops-tool", *OPS_SCOPES)
    _, auditor = client_with(server, "auditor", "audit:read")
    created = server.http.post(
        "/subscriptions",
        json={"url": "http://127.0.0.1:9/in", "types": ["claim.*"], "account": "acme"},
        headers={**ops, **JSON, "x-request-id": "req-create-1"},
    )
    assert created.status_code == 201, created.text
    sub = created.json()["id"]
    seeded = seed_deliveries(server.db_path, sub)
    event_id = on_store(server.db_path, claim_told)
    listed = server.http.get("/events", params={"type": "transaction.processed.v2"}, headers=ops)
    seeded_event = next(e["id"] for e in listed.json()["items"] if e["id"] != event_id)
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    calls = [
        ("post", f"/deliveries/{seeded.dead}/retry", None),
        ("post", f"/events/{seeded_event}/redeliver", None),
        ("post", "/replays", {"since": since, "status": "all"}),
        ("post", "/replays", {"since": since, "dry_run": True}),  # a preview: no row
        ("post", f"/subscriptions/{sub}/rotate-secret", None),
        ("post", f"/subscriptions/{sub}/enable", None),
        ("get", f"/events/{event_id}", None),
        ("get", f"/claims/{PCN}", None),
        ("get", "/events", None),  # no body: no row
        ("delete", f"/subscriptions/{sub}", None),
        ("delete", f"/subscriptions/{sub}", None),  # already removed: nothing done, no row
    ]
    for method, path, body in calls:
        resp = server.http.request(method, path, json=body, headers=ops)
        assert resp.status_code < 300, (path, resp.text)

    rows = audit(server, auditor)[::-1]  # oldest first
    # A claim read's target is the patient control number's blind index, never the number.
    assert PCN not in str(rows)
    targets = [
        (r["action"], r["target"].partition(":")[0] if r["action"] == "claim.read" else r["target"])
        for r in rows
    ]
    assert targets == [
        ("subscription.create", sub),
        ("delivery.retry", seeded.dead),
        ("event.redeliver", seeded_event),
        ("replay", None),
        ("subscription.rotate", sub),
        ("subscription.enable", sub),
        ("event.read", event_id),
        ("claim.read", "pcn-index"),
        ("subscription.remove", sub),
    ]
    assert {r["actor"] for r in rows} == {ops_id}
    assert rows[0]["request_id"] == "req-create-1"
    assert rows[0]["filter"] == {"types": ["claim.*"], "account": "acme"}
    assert len({r["request_id"] for r in rows}) == len(rows)  # one request each
    assert rows[2]["counts"] == {"requeued": 0, "already_pending": 2}
    assert rows[3]["filter"]["statuses"] == ["delivered", "dead"]
    assert rows[3]["filter"]["since"] == datetime.fromisoformat(since).isoformat()
    assert rows[7]["counts"] == {"entries": 1}
    for row in rows:
        assert BODY_MARK not in str(row)  # never a body
        assert "whsec_" not in str(row)  # never a secret


def test_listing_filters_and_pages(server: LiveServer) -> None:
    ops_id, ops = client_with(server, "ops-tool", *OPS_SCOPES)
    _, auditor = client_with(server, "auditor", "audit:read")
    event_id = on_store(server.db_path, claim_told)
    before = datetime.now(UTC)
    for _ in range(3):
        assert server.http.get(f"/events/{event_id}", headers=ops).status_code == 200
    assert server.http.get(f"/claims/{PCN}", headers=ops).status_code == 200
    assert len(audit(server, auditor, action="event.read")) == 3
    assert len(audit(server, auditor, actor=ops_id)) == 4
    assert audit(server, auditor, actor="someone-else") == []
    assert len(audit(server, auditor, since=before.isoformat())) == 4
    assert audit(server, auditor, until=before.isoformat()) == []
    first = server.http.get("/audit", params={"limit": "3"}, headers=auditor).json()
    rest = server.http.get(
        "/audit", params={"limit": "3", "cursor": first["next_cursor"]}, headers=auditor
    ).json()
    assert [r["action"] for r in first["items"] + rest["items"]] == ["claim.read"] + [
        "event.read"
    ] * 3
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"since": "2026-12-01T00:00:00"}, "timezone"),
        ({"until": "yesterday"}, "ISO-8601"),
        ({"action": "event.delete"}, "action must be one of"),
        ({"cursor": "nonsense!"}, "cursor"),
        ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "later"),
    ],
)
def test_bad_filters_are_400(server: LiveServer, params: dict[str, str], needle: str) -> None:
    _, auditor = client_with(server, "auditor", "audit:read")
    bad(server.http.get("/audit", params=params, headers=auditor), 400, "invalid_request", needle)


def test_events_read_alone_cannot_read_the_audit(server: LiveServer) -> None:
    _, replayer = client_with(server, "replayer", "events:read", "events:replay")
    resp = server.http.get("/audit", headers=server.bearer("ops"))  # events:read only
    assert resp.status_code == 403
    assert resp.json()["error"] == "insufficient_scope"
    assert server.http.get("/audit", headers=replayer).status_code == 403
    assert server.http.get("/audit").status_code == 401
