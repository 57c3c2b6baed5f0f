"""Logs never carry PHI or secrets: drive every intake path and scan what was written."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from tests.conftest import fixture_bytes
from tests.integration.conftest import StartServer
from tests.integration.harness import (
    BASIC_PASSWORD,
    BASIC_USER,
    DESTINATION_BODY,
    DESTINATION_TIMESTAMP,
    INBOUND_SECRET,
    OPTUM_BODY,
    STEDI_WEBHOOK_FIXTURES,
    WHSEC,
    LiveServer,
    basic,
    destination_fixture_headers,
    optum_fixture_headers,
)

FIXED_NOW = datetime.fromtimestamp(DESTINATION_TIMESTAMP, UTC) + timedelta(hours=1)
PHI = ("TESTPATIENT", "JORDAN", "ALEX", "ZZC998877001", "ZZT000123401", "SYN0001842")
REPORTS = ("stedi/report-277ca.accepted.json", "stedi/report-835-era.json")
JSON = {"content-type": "application/json"}


def _drive_everything(server: LiveServer) -> list[str]:
    """Every intake path, token issuance and failing auth; returns the secrets in play."""
    optum_token = server.token("optum")
    ops_token = server.token("ops")
    for name in STEDI_WEBHOOK_FIXTURES:
        assert server.stedi(fixture_bytes(name)).status_code == 200
        assert server.stedi(fixture_bytes(name)).json()["status"] == "duplicate"
    # PHI-heavy documents pushed as webhook details (stored, never logged).
    for n, name in enumerate(REPORTS):
        event = {
            "id": f"00000000-0000-4000-8000-00000000010{n}",
            "detail-type": "report.test",
            "detail": json.loads(fixture_bytes(name)),
        }
        assert server.stedi(event).status_code == 200
    headers = {**JSON, "authorization": basic(BASIC_USER, BASIC_PASSWORD)}
    assert (
        server.stedi(
            fixture_bytes(STEDI_WEBHOOK_FIXTURES[0]).replace(b"6f0e2d4c", b"6f0e2d4d"),
            account="basicco",
            headers=headers,
        ).status_code
        == 200
    )
    resp = server.http.post(
        "/webhooks/stedi/acme/event-destinations",
        content=fixture_bytes(DESTINATION_BODY),
        headers=destination_fixture_headers(),
    )
    assert resp.status_code == 200
    for _ in range(2):
        resp = server.http.post(
            "/callbacks/optum/coverage-discovery",
            content=fixture_bytes(OPTUM_BODY),
            headers=optum_fixture_headers(optum_token),
        )
        assert resp.status_code == 204
    for event_id in [e["id"] for e in server.events()]:
        server.event(event_id)

    # Failures, each presenting something secret or PHI-laden.
    ops = server.seed.ops
    wrong = server.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(ops.client_id, ops.secret + "x"),
    )
    assert wrong.status_code == 401
    assert server.stedi(fixture_bytes(OPTUM_BODY), headers={"x-api-key": "x"}).status_code == 401
    resp = server.http.post(
        "/callbacks/optum/coverage-discovery",
        content=fixture_bytes(OPTUM_BODY),
        headers=optum_fixture_headers(ops_token),
    )
    assert resp.status_code == 403
    resp = server.http.post(
        "/callbacks/optum/coverage-discovery",
        content=fixture_bytes(OPTUM_BODY),
        headers=optum_fixture_headers(optum_token + "tampered"),
    )
    assert resp.status_code == 401
    broken = fixture_bytes(OPTUM_BODY)[:-40]  # invalid JSON full of PHI
    assert (
        server.http.post(
            "/callbacks/optum/coverage-discovery",
            content=broken,
            headers=optum_fixture_headers(optum_token),
        ).status_code
        == 400
    )
    assert (
        server.http.get(
            "/events", params={"since": "TESTPATIENT"}, headers=server.bearer()
        ).status_code
        == 400
    )
    assert server.http.get("/events/TESTPATIENT-JORDAN", headers=server.bearer()).status_code == 404
    return [ops.secret, server.seed.optum.secret, optum_token, ops_token]


def test_logs_hold_no_phi_or_secrets(start_server: StartServer, captured: io.StringIO) -> None:
    server = start_server(clock=lambda: FIXED_NOW)
    secrets = _drive_everything(server)
    server.stop()  # flush every request's log lines
    text = captured.getvalue()
    assert "request.completed" in text
    assert "inbound.accepted" in text
    forbidden = [*PHI, *secrets, INBOUND_SECRET, BASIC_PASSWORD, WHSEC]
    leaked = [value for value in forbidden if value in text]
    assert leaked == []
    # The whsec key material without its prefix, and the Basic header value, too.
    assert WHSEC.removeprefix("whsec_") not in text
    assert basic(BASIC_USER, BASIC_PASSWORD).split()[1] not in text

    lines = [line for line in text.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    completed = [r for r in records if r["event"] == "request.completed"]
    assert len(completed) > 20
    for record in completed:
        assert record["request_id"]
        assert "{" in record["route"] or record["route"].startswith("/")
    # Raw paths (which may carry identifiers) never appear, only route templates.
    assert all(r["route"] != "/events/TESTPATIENT-JORDAN" for r in completed)
    for record in records:
        if record["event"].startswith(("inbound.", "request.", "oauth.")):
            assert record.get("request_id"), record
