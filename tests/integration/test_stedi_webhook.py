"""POST /webhooks/stedi/{account}: credentials, dedup, account checks and stored rows."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from tests.conftest import fixture_bytes
from tests.integration.harness import (
    BASIC_PASSWORD,
    BASIC_USER,
    INBOUND_SECRET,
    STEDI_WEBHOOK_FIXTURES,
    LiveServer,
    basic,
    stedi_event,
)

EXPECTED_SET = {
    "stedi/transaction-processed-v2.outbound-837p.webhook.json": "837",
    "stedi/transaction-processed-v2.inbound-277ca.webhook.json": "277",
    "stedi/transaction-processed-v2.inbound-835.webhook.json": "835",
    "stedi/file-failed-v2.webhook.json": None,
}
F277 = "stedi/transaction-processed-v2.inbound-277ca.webhook.json"
JSON = {"content-type": "application/json"}


def _accepted(resp: httpx.Response) -> str:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "accepted"
    assert set(body) == {"status", "event_id"}
    event_id: str = body["event_id"]
    return event_id


@pytest.mark.parametrize("name", STEDI_WEBHOOK_FIXTURES)
def test_each_fixture_is_accepted_and_stored(server: LiveServer, name: str) -> None:
    raw = fixture_bytes(name)
    event_id = _accepted(server.stedi(raw))
    event = server.event(event_id)
    envelope = stedi_event(name)
    assert event["body"] == raw.decode("utf-8")
    assert event["source"] == "stedi"
    assert event["account"] == "acme"
    assert event["type"] == envelope["detail-type"]
    assert event["external_id"] == envelope["id"]
    assert event["transaction_set"] == EXPECTED_SET[name]
    assert event["transaction_id"] == envelope["detail"].get("transactionId")
    assert event["summary"]["wrapped"] is True
    assert "x-api-key" not in event["headers"]
    assert "authorization" not in event["headers"]
    assert event["headers"]["content-type"] == "application/json"
    (job,) = event["jobs"]
    assert (job["kind"], job["status"]) == ("process", "pending")


def test_file_failed_summary_carries_fault_codes(server: LiveServer) -> None:
    event_id = _accepted(server.stedi(fixture_bytes("stedi/file-failed-v2.webhook.json")))
    summary = server.event(event_id)["summary"]
    assert summary["fault_codes"] == ["FAILED_TO_PARSE"]


def test_bare_envelope_is_accepted(server: LiveServer) -> None:
    event_id = _accepted(server.stedi(stedi_event(F277)))
    event = server.event(event_id)
    assert event["summary"]["wrapped"] is False
    assert event["transaction_set"] == "277"


def test_resend_is_a_duplicate_of_the_same_event(server: LiveServer) -> None:
    raw = fixture_bytes(F277)
    event_id = _accepted(server.stedi(raw))
    again = server.stedi(raw)
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "event_id": event_id}
    assert len(server.events(source="stedi")) == 1
    jobs = server.http.get("/jobs", headers=server.bearer()).json()["items"]
    assert len(jobs) == 1


def test_bare_resend_of_a_wrapped_event_is_a_duplicate(server: LiveServer) -> None:
    event_id = _accepted(server.stedi(fixture_bytes(F277)))
    again = server.stedi(stedi_event(F277))
    assert again.json() == {"status": "duplicate", "event_id": event_id}


def test_reemit_with_new_event_id_same_transaction_is_a_duplicate(server: LiveServer) -> None:
    event_id = _accepted(server.stedi(fixture_bytes(F277)))
    reemit = copy.deepcopy(fixture_bytes_json(F277))
    reemit["event"]["id"] = "00000000-0000-4000-8000-000000000001"
    resp = server.stedi(reemit)
    assert resp.status_code == 200
    assert resp.json() == {"status": "duplicate", "event_id": event_id}
    assert len(server.events()) == 1


def test_same_transaction_with_another_detail_type_is_new(server: LiveServer) -> None:
    _accepted(server.stedi(fixture_bytes(F277)))
    other = fixture_bytes_json(F277)
    other["event"]["id"] = "00000000-0000-4000-8000-000000000002"
    other["event"]["detail-type"] = "transaction.processed.v3"
    _accepted(server.stedi(other))
    assert len(server.events()) == 2


def fixture_bytes_json(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fixture_bytes(name))
    return loaded


def test_unknown_detail_type_is_accepted_and_stored(server: LiveServer) -> None:
    envelope = stedi_event(F277)
    envelope["id"] = "00000000-0000-4000-8000-0000000000aa"
    envelope["detail-type"] = "something.new.v9"
    envelope["detail"]["transactionId"] = "11111111-2222-4333-8444-555555555555"
    event_id = _accepted(server.stedi({"event": envelope}))
    event = server.event(event_id)
    assert event["type"] == "something.new.v9"
    assert server.events(type="something.new.v9")[0]["id"] == event_id


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(JSON, id="missing"),
        pytest.param({**JSON, "x-api-key": "wrong"}, id="wrong-key"),
        pytest.param({**JSON, "x-api-key": ""}, id="empty-key"),
        pytest.param({**JSON, "x-other-key": INBOUND_SECRET}, id="other-header"),
        pytest.param({**JSON, "authorization": basic("x-api-key", INBOUND_SECRET)}, id="basic"),
        pytest.param({**JSON, "authorization": f"Bearer {INBOUND_SECRET}"}, id="bearer"),
    ],
)
def test_wrong_or_missing_credential_is_401(server: LiveServer, headers: dict[str, str]) -> None:
    resp = server.stedi(fixture_bytes(F277), headers=headers)
    assert resp.status_code == 401, resp.text
    assert resp.json() == {"error": "unauthorized", "detail": resp.json()["detail"]}
    assert INBOUND_SECRET not in resp.text
    assert server.events() == []


def test_webhook_401_carries_www_authenticate(server: LiveServer) -> None:
    resp = server.stedi(fixture_bytes(F277), headers=JSON)
    assert resp.status_code == 401
    assert "www-authenticate" in resp.headers


def test_unknown_account_is_404(server: LiveServer) -> None:
    resp = server.stedi(fixture_bytes(F277), account="nobody")
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"


def test_body_naming_another_stedi_account_is_403(server: LiveServer) -> None:
    other = fixture_bytes_json(F277)
    other["event"]["account"] = "99999999-9999-4999-8999-999999999999"
    resp = server.stedi(other)
    assert resp.status_code == 403
    assert resp.json()["error"] == "forbidden"
    assert server.events() == []


def test_basic_credential_account_accepts_its_user(server: LiveServer) -> None:
    headers = {**JSON, "authorization": basic(BASIC_USER, BASIC_PASSWORD)}
    event_id = _accepted(server.stedi(fixture_bytes(F277), account="basicco", headers=headers))
    event = server.event(event_id)
    assert event["account"] == "basicco"
    assert "authorization" not in event["headers"]


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(basic(BASIC_USER, "wrong"), id="wrong-password"),
        pytest.param(basic("someone", BASIC_PASSWORD), id="wrong-user"),
        pytest.param("Basic not-base64!", id="garbage"),
        pytest.param(None, id="missing"),
    ],
)
def test_basic_account_refuses_wrong_credentials(
    server: LiveServer, authorization: str | None
) -> None:
    headers = dict(JSON)
    if authorization is not None:
        headers["authorization"] = authorization
    resp = server.stedi(fixture_bytes(F277), account="basicco", headers=headers)
    assert resp.status_code == 401


def test_header_credential_of_one_account_does_not_open_another(server: LiveServer) -> None:
    resp = server.stedi(
        fixture_bytes(F277), account="basicco", headers={**JSON, "x-api-key": INBOUND_SECRET}
    )
    assert resp.status_code == 401


def test_missing_id_or_detail_type_is_400(server: LiveServer) -> None:
    for field in ("id", "detail-type"):
        envelope = stedi_event(F277)
        del envelope[field]
        resp = server.stedi({"event": envelope})
        assert resp.status_code == 400, field
        assert resp.json()["error"] == "invalid_request"


def test_malformed_transaction_id_is_stored_but_flagged(server: LiveServer) -> None:
    envelope = stedi_event(F277)
    envelope["detail"]["transactionId"] = "../../evil?x=1"
    event_id = _accepted(server.stedi(envelope))
    event = server.event(event_id)
    assert event["transaction_id"] is None
    assert event["summary"]["invalid_transaction_id"] is True


def test_incoming_request_id_is_echoed(server: LiveServer) -> None:
    resp = server.http.post(
        "/webhooks/stedi/acme",
        content=fixture_bytes(F277),
        headers={**JSON, "x-api-key": INBOUND_SECRET, "x-request-id": "stedi-req-123"},
    )
    assert resp.status_code == 200
    assert resp.headers["x-request-id"] == "stedi-req-123"
