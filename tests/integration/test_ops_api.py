"""GET /events, /events/{id}, /jobs, /openapi.json and /metrics over HTTP."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest

from receiver.app import ROUTES
from tests.conftest import fixture_bytes
from tests.integration.harness import (
    OPTUM_BODY,
    STEDI_WEBHOOK_FIXTURES,
    LiveServer,
    optum_fixture_headers,
)


def _intake_everything(server: LiveServer) -> list[str]:
    """The four Stedi fixtures (acme) and the Optum callback; Stedi event ids, oldest first."""
    ids = []
    for name in STEDI_WEBHOOK_FIXTURES:
        resp = server.stedi(fixture_bytes(name))
        assert resp.status_code == 200
        ids.append(resp.json()["event_id"])
    resp = server.http.post(
        "/callbacks/optum/coverage-discovery",
        content=fixture_bytes(OPTUM_BODY),
        headers=optum_fixture_headers(server.token("optum")),
    )
    assert resp.status_code == 204
    return ids


def test_paging_walks_every_event_newest_first(server: LiveServer) -> None:
    stedi_ids = _intake_everything(server)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2"}
        if cursor:
            params["cursor"] = cursor
        resp = server.http.get("/events", params=params, headers=server.bearer())
        assert resp.status_code == 200, resp.text
        page = resp.json()
        pages += 1
        assert len(page["items"]) <= 2
        assert all("body" not in item for item in page["items"])
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5
    assert [i for i in seen if i in stedi_ids] == list(reversed(stedi_ids))


def test_filters(server: LiveServer) -> None:
    _intake_everything(server)
    assert len(server.events(source="stedi")) == 4
    assert len(server.events(source="optum")) == 1
    assert len(server.events(type="transaction.processed.v2")) == 3
    assert len(server.events(type="file.failed.v2")) == 1
    assert len(server.events(account="acme")) == 4
    assert server.events(account="basicco") == []
    assert len(server.events(source="stedi", type="file.failed.v2")) == 1
    assert len(server.events(status="received")) == 5
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert len(server.events(since=past)) == 5
    assert server.events(since=future) == []
    assert len(server.events(since="2000-01-01T00:00:00Z")) == 5
    assert len(server.events(until=future)) == 5
    assert server.events(until=past) == []


def test_jobs_listing(server: LiveServer) -> None:
    _intake_everything(server)
    resp = server.http.get("/jobs", params={"limit": "10"}, headers=server.bearer())
    jobs = resp.json()["items"]
    assert len(jobs) == 5
    assert {j["status"] for j in jobs} == {"pending"}
    assert {j["kind"] for j in jobs} == {"process"}
    first = server.http.get("/jobs", params={"limit": "3"}, headers=server.bearer()).json()
    assert first["next_cursor"] is not None
    rest = server.http.get(
        "/jobs", params={"limit": "3", "cursor": first["next_cursor"]}, headers=server.bearer()
    ).json()
    assert len(first["items"]) + len(rest["items"]) == 5
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("path", ["/events", "/events/evt_x", "/jobs"])
def test_ops_routes_need_a_token(server: LiveServer, path: str) -> None:
    resp = server.http.get(path)
    assert resp.status_code == 401
    assert 'error="invalid_token"' in resp.headers["www-authenticate"]


@pytest.mark.parametrize("path", ["/events", "/events/evt_x", "/jobs"])
def test_ops_routes_need_events_read(server: LiveServer, path: str) -> None:
    resp = server.http.get(path, headers=server.bearer("optum"))
    assert resp.status_code == 403
    assert 'error="insufficient_scope"' in resp.headers["www-authenticate"]


def _bad_request(server: LiveServer, path: str, **params: str) -> None:
    resp = server.http.get(path, params=params, headers=server.bearer())
    assert resp.status_code == 400, (params, resp.status_code, resp.text)
    assert resp.json()["error"] == "invalid_request"
    assert resp.headers["x-request-id"]


@pytest.mark.parametrize(
    "cursor", ["garbage", "!!!", base64.urlsafe_b64encode(b"x12").decode(), "\u00e9"]
)
def test_bad_cursor_is_400(server: LiveServer, cursor: str) -> None:
    _bad_request(server, "/events", cursor=cursor)
    _bad_request(server, "/jobs", cursor=cursor)


@pytest.mark.parametrize("since", ["yesterday", "2025-13-01", "", "12:00"])
def test_bad_since_is_400(server: LiveServer, since: str) -> None:
    _bad_request(server, "/events", since=since)


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten", "1.5", ""])
def test_bad_limit_is_400(server: LiveServer, limit: str) -> None:
    _bad_request(server, "/events", limit=limit)


def test_limit_bounds_are_accepted(server: LiveServer) -> None:
    for limit in ("1", "500"):
        resp = server.http.get("/events", params={"limit": limit}, headers=server.bearer())
        assert resp.status_code == 200


def test_superscript_digit_limit_is_400(server: LiveServer) -> None:
    _bad_request(server, "/events", limit="\u00b2")


def test_cursor_beyond_64_bits_is_400(server: LiveServer) -> None:
    cursor = base64.urlsafe_b64encode(b"s" + b"9" * 30).decode().rstrip("=")
    _bad_request(server, "/events", cursor=cursor)


def test_since_out_of_utc_range_is_400(server: LiveServer) -> None:
    _bad_request(server, "/events", since="0001-01-01T00:00:00+05:00")


def test_unknown_event_is_404(server: LiveServer) -> None:
    resp = server.http.get("/events/evt_unknown", headers=server.bearer())
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"


def _template(path: str) -> str:
    """`/x/{id:int}` -> `/x/{id}` (OpenAPI has no converters)."""
    return re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", path)


def test_openapi_lists_every_route(server: LiveServer) -> None:
    resp = server.http.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [{"url": server.base_url}]
    routes = {_template(r.path): {m.lower() for m in r.methods or ()} - {"head"} for r in ROUTES}
    documented = {path: set(ops) for path, ops in doc["paths"].items()}
    assert set(documented) == set(routes)
    assert documented == routes


def test_metrics_count_intake(server: LiveServer) -> None:
    _intake_everything(server)
    server.stedi(fixture_bytes(STEDI_WEBHOOK_FIXTURES[0]))  # a duplicate
    server.stedi(fixture_bytes(STEDI_WEBHOOK_FIXTURES[0]), headers={})  # a 401
    resp = server.http.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert 'receiver_inbound_events_total{outcome="accepted",source="stedi"} 4.0' in text
    assert 'receiver_inbound_events_total{outcome="accepted",source="optum"} 1.0' in text
    assert 'receiver_inbound_events_total{outcome="duplicate",source="stedi"} 1.0' in text
    assert 'receiver_inbound_events_total{outcome="rejected",source="stedi"} 1.0' in text
    assert 'receiver_inbound_duplicates_total{source="stedi"} 1.0' in text
    assert "receiver_tokens_issued_total 1.0" in text  # the optum token
    # Queue depth comes from the store: the five accepted events wait with pending jobs.
    assert 'receiver_jobs{state="pending"} 5.0' in text
    assert 'receiver_jobs{state="dead"} 0.0' in text
    assert 'receiver_deliveries{state="pending"} 0.0' in text  # no subscriptions yet
    assert 'receiver_deliveries{state="dead"} 0.0' in text
