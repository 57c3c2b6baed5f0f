"""POST /webhooks/stedi/{account}/event-destinations: Standard Webhooks signatures, dedup."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import fixture_bytes
from tests.integration.conftest import StartServer
from tests.integration.harness import (
    DESTINATION_BODY,
    DESTINATION_TIMESTAMP,
    WHSEC,
    LiveServer,
    destination_fixture_headers,
)

PATH = "/webhooks/stedi/acme/event-destinations"
FIXED_NOW = datetime.fromtimestamp(DESTINATION_TIMESTAMP, UTC) + timedelta(hours=1)


@pytest.fixture
def server(start_server: StartServer) -> LiveServer:
    """A live app whose clock reads one hour after the fixture's webhook-timestamp."""
    return start_server(clock=lambda: FIXED_NOW)


def _post(
    server: LiveServer, body: bytes, headers: dict[str, str], path: str = PATH
) -> httpx.Response:
    return server.http.post(path, content=body, headers=headers)


def _signed(body: bytes, msg_id: str, when: datetime = FIXED_NOW) -> dict[str, str]:
    headers = destination_fixture_headers()
    headers["webhook-id"] = msg_id
    headers["webhook-timestamp"] = str(int(when.timestamp()))
    headers["webhook-signature"] = Webhook(WHSEC).sign(msg_id, when, body.decode())
    return headers


def test_fixture_is_accepted_and_stored_as_835(server: LiveServer) -> None:
    body = fixture_bytes(DESTINATION_BODY)
    resp = _post(server, body, destination_fixture_headers())
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted"
    event = server.event(resp.json()["event_id"])
    assert event["source"] == "stedi-destination"
    assert event["type"] == "transaction.processed"
    assert event["account"] == "acme"
    assert event["transaction_set"] == "835"
    assert event["transaction_id"] == "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
    assert event["external_id"] == "evt_2f4a6c8e-0b1d-4e3f-a5c7-9e1b3d5f7a90"
    assert event["body"] == body.decode("utf-8")
    assert event["headers"]["webhook-id"] == "msg_2f4a6c8e-0b1d-4e3f-a5c7-9e1b3d5f7a90"
    assert event["summary"]["attempt_number"] == 1
    (job,) = event["jobs"]
    assert job["status"] == "pending"


def test_resend_is_a_duplicate(server: LiveServer) -> None:
    body = fixture_bytes(DESTINATION_BODY)
    first = _post(server, body, destination_fixture_headers())
    headers = destination_fixture_headers()
    headers["attempt-number"] = "2"
    again = _post(server, body, headers)
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert len(server.events()) == 1


@pytest.mark.parametrize("position", [0, 40, -2])
def test_one_changed_byte_is_invalid_signature(server: LiveServer, position: int) -> None:
    body = bytearray(fixture_bytes(DESTINATION_BODY))
    body[position] = ord("X") if body[position] != ord("X") else ord("Y")
    resp = _post(server, bytes(body), destination_fixture_headers())
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"] == "invalid_signature"
    assert server.events() == []


def test_changed_webhook_id_is_invalid_signature(server: LiveServer) -> None:
    headers = destination_fixture_headers()
    headers["webhook-id"] = "msg_other"
    resp = _post(server, fixture_bytes(DESTINATION_BODY), headers)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_signature"


@pytest.mark.parametrize("header", ["webhook-signature", "webhook-id", "webhook-timestamp"])
def test_missing_signature_headers_are_401(server: LiveServer, header: str) -> None:
    headers = destination_fixture_headers()
    del headers[header]
    resp = _post(server, fixture_bytes(DESTINATION_BODY), headers)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_signature"


def test_malformed_signature_is_401(server: LiveServer) -> None:
    headers = destination_fixture_headers()
    headers["webhook-signature"] = "v1,not base64!!"
    resp = _post(server, fixture_bytes(DESTINATION_BODY), headers)
    assert resp.status_code == 401


def test_newly_signed_event_with_new_id_is_accepted(server: LiveServer) -> None:
    payload = json.loads(fixture_bytes(DESTINATION_BODY))
    payload["id"] = "evt_new"
    body = json.dumps(payload, separators=(",", ":")).encode()
    resp = _post(server, body, _signed(body, "msg_new"))
    assert resp.status_code == 200
    assert resp.json()["status"] == "accepted"


def test_stale_and_future_timestamps_are_401(server: LiveServer) -> None:
    body = fixture_bytes(DESTINATION_BODY)
    stale = _post(server, body, _signed(body, "msg_stale", FIXED_NOW - timedelta(hours=73)))
    future = _post(server, body, _signed(body, "msg_future", FIXED_NOW + timedelta(minutes=10)))
    for resp in (stale, future):
        assert resp.status_code == 401
        assert resp.json()["error"] == "invalid_signature"


def test_signed_event_naming_another_account_is_403(server: LiveServer) -> None:
    payload = json.loads(fixture_bytes(DESTINATION_BODY))
    payload["account"] = "99999999-9999-4999-8999-999999999999"
    body = json.dumps(payload).encode()
    resp = _post(server, body, _signed(body, "msg_other_account"))
    assert resp.status_code == 403


def test_account_without_destination_secret_refuses(server: LiveServer) -> None:
    resp = _post(
        server,
        fixture_bytes(DESTINATION_BODY),
        destination_fixture_headers(),
        path="/webhooks/stedi/basicco/event-destinations",
    )
    assert resp.status_code == 401


def test_unknown_account_is_404(server: LiveServer) -> None:
    resp = _post(
        server,
        fixture_bytes(DESTINATION_BODY),
        destination_fixture_headers(),
        path="/webhooks/stedi/nobody/event-destinations",
    )
    assert resp.status_code == 404


def test_real_clock_refuses_the_2025_fixture_as_stale(start_server: StartServer) -> None:
    live = start_server()
    resp = _post(live, fixture_bytes(DESTINATION_BODY), destination_fixture_headers())
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_signature"
