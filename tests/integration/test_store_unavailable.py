"""A locked SQLite file: intake answers 503 (never 401 or 500), and recovers after."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import fixture_bytes
from tests.integration.conftest import StartServer
from tests.integration.harness import OPTUM_BODY, LiveServer, optum_fixture_headers

F835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"


@pytest.fixture
def server(start_server: StartServer) -> LiveServer:
    return start_server(sqlite_busy_timeout_ms=200)


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold the SQLite write lock from another connection."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_readyz_is_200(server: LiveServer) -> None:
    resp = server.http.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ready"}
    assert server.http.get("/healthz").json() == {"status": "ok"}


def test_locked_store_is_503_then_resend_is_accepted(server: LiveServer) -> None:
    body = fixture_bytes(F835)
    with exclusive_lock(server.db_path):
        resp = server.stedi(body)
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"] == "store_unavailable"
        assert set(resp.json()) == {"error", "detail"}
        assert resp.headers["x-request-id"]
    again = server.stedi(body)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "accepted"
    (event,) = server.events()
    assert event["id"] == again.json()["event_id"]
    assert len(server.event(event["id"])["jobs"]) == 1


def test_locked_store_is_503_for_optum_and_nothing_half_written(server: LiveServer) -> None:
    token = server.token("optum")
    with exclusive_lock(server.db_path):
        resp = server.http.post(
            "/callbacks/optum/coverage-discovery",
            content=fixture_bytes(OPTUM_BODY),
            headers=optum_fixture_headers(token),
        )
        assert resp.status_code == 503
        assert resp.json()["error"] == "store_unavailable"
    assert server.events() == []
    jobs = server.http.get("/jobs", headers=server.bearer()).json()["items"]
    assert jobs == []
    retry = server.http.post(
        "/callbacks/optum/coverage-discovery",
        content=fixture_bytes(OPTUM_BODY),
        headers=optum_fixture_headers(token),
    )
    assert retry.status_code == 204


def test_503s_are_counted_as_rejections(server: LiveServer) -> None:
    with exclusive_lock(server.db_path):
        assert server.stedi(fixture_bytes(F835)).status_code == 503
    text = server.http.get("/metrics").text
    assert (
        'receiver_inbound_rejections_total{reason="store_unavailable",source="stedi"} 1.0' in text
    )
