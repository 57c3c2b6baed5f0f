"""`receiver serve` as a user runs it: a fresh directory, no configuration, real HTTP."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.e2e.server import Server, clean_env, run_cli, run_cli_json

OPTUM_FIXTURE = FIXTURES / "optum" / "coverage-discovery.callback.success.json"
STEDI_FIXTURE = FIXTURES / "stedi" / "transaction-processed-v2.inbound-835.webhook.json"
STEDI_ACCOUNT_ID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"  # event.account in the fixture
TENANT_ID = "4f6a8c0e-2b4d-4f6a-8c0e-2b4d6f8a0c11"
INBOUND_SECRET = "e2e-acme-inbound-3b9f7c1d5e"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def json_lines(text: str) -> list[dict[str, object]]:
    """Every non-empty line parsed as a JSON object (fails on any other line)."""
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            pytest.fail(f"server wrote a non-JSON log line: {line!r}")
        assert isinstance(value, dict), line
        parsed.append(value)
    return parsed


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    cwd = tmp_path / "work"
    cwd.mkdir()
    return cwd


def test_serve_end_to_end_and_survives_restart(tmp_path: Path, workdir: Path) -> None:
    log = tmp_path / "server.log"
    server = Server(workdir, log)
    restarted: Server | None = None
    try:
        server.start()

        # A fresh start with no configuration: SQLite file and signing key in cwd.
        assert (workdir / "receiver.db").is_file()
        key_path = workdir / "receiver-signing-key.pem"
        assert key_path.is_file()
        assert mode_of(key_path) == 0o600

        with httpx.Client(base_url=server.url, timeout=10.0) as http:
            kid = http.get("/.well-known/jwks.json").json()["keys"][0]["kid"]

            # An OAuth client, created from the CLI against the same directory.
            created = run_cli_json(
                workdir, "clients", "create", "optum",
                "--scope", "callbacks:coverage-discovery", "--scope", "events:read",
            )  # fmt: skip
            got = http.post(
                "/oauth/token",
                auth=(created["client_id"], created["client_secret"]),
                data={"grant_type": "client_credentials"},
            )
            assert got.status_code == 200, got.text
            assert got.headers["cache-control"] == "no-store"
            token = got.json()["access_token"]
            bearer = {"authorization": f"Bearer {token}"}

            # Optum's Coverage Discovery callback.
            optum_body = OPTUM_FIXTURE.read_bytes()
            posted = http.post(
                "/callbacks/optum/coverage-discovery",
                content=optum_body,
                headers={
                    **bearer,
                    "content-type": "application/json",
                    "x-optum-tenant-id": TENANT_ID,
                },
            )
            assert posted.status_code == 204, posted.text

            # A Stedi account, and its 835 webhook.
            run_cli(
                workdir, "accounts", "add", "acme", "--stedi-account-id", STEDI_ACCOUNT_ID,
                "--inbound-header", "x-api-key", "--inbound-secret-env", "ACME_IN",
                env=clean_env(ACME_IN=INBOUND_SECRET),
            )  # fmt: skip
            stedi_body = STEDI_FIXTURE.read_bytes()
            webhook = http.post(
                "/webhooks/stedi/acme",
                content=stedi_body,
                headers={"content-type": "application/json", "x-api-key": INBOUND_SECRET},
            )
            assert webhook.status_code == 200, webhook.text
            assert webhook.json()["status"] == "accepted"
            stedi_id = webhook.json()["event_id"]

            wrong_key = http.post(
                "/webhooks/stedi/acme",
                content=stedi_body,
                headers={"content-type": "application/json", "x-api-key": "wrong"},
            )
            assert wrong_key.status_code == 401

            shown = http.get(f"/events/{stedi_id}", headers=bearer)
            assert shown.status_code == 200, shown.text
            assert shown.json()["body"] == stedi_body.decode("utf-8")
            assert shown.json()["source"] == "stedi"

            listed = http.get("/events", params={"source": "optum"}, headers=bearer)
            assert listed.status_code == 200, listed.text
            (optum_event,) = listed.json()["items"]
            optum_id = optum_event["id"]
            optum_shown = http.get(f"/events/{optum_id}", headers=bearer).json()
            assert optum_shown["body"] == optum_body.decode("utf-8")

        server.terminate()
        # A graceful stop closes the store: SQLite checkpoints and removes the WAL file.
        assert not (workdir / "receiver.db-wal").exists()

        # The log: JSON lines only, a startup line with the URL, and no secrets.
        log_text = server.log_text()
        records = json_lines(log_text)
        starting = [r for r in records if r.get("event") == "service.starting"]
        assert starting, log_text
        assert starting[0]["url"] == server.url
        for secret in (created["client_secret"], token, INBOUND_SECRET):
            assert secret not in log_text

        # Same directory, new process: events, signing key and tokens all survive.
        restarted = Server(workdir, tmp_path / "server2.log").start()
        with httpx.Client(base_url=restarted.url, timeout=10.0) as http:
            assert http.get("/.well-known/jwks.json").json()["keys"][0]["kid"] == kid
            for event_id, body in ((stedi_id, stedi_body), (optum_id, optum_body)):
                again = http.get(f"/events/{event_id}", headers=bearer)
                assert again.status_code == 200, again.text
                assert again.json()["body"] == body.decode("utf-8")
            listed_again = http.get("/events", headers=bearer).json()["items"]
            assert {e["id"] for e in listed_again} == {stedi_id, optum_id}

            # The Stedi redelivery of the same webhook is a duplicate, not a new event.
            duplicate = http.post(
                "/webhooks/stedi/acme",
                content=stedi_body,
                headers={"content-type": "application/json", "x-api-key": INBOUND_SECRET},
            )
            assert duplicate.status_code == 200, duplicate.text
            assert duplicate.json() == {"status": "duplicate", "event_id": stedi_id}

        cli_events = run_cli_json(workdir, "events", "list")
        shown_by_cli = json.loads(run_cli(workdir, "events", "show", stedi_id))
        assert shown_by_cli["body"] == stedi_body.decode("utf-8")
        assert {e["id"] for e in cli_events["items"]} == {stedi_id, optum_id}
        restarted.terminate()
        json_lines(restarted.log_text())
    finally:
        server.kill()
        if restarted is not None:
            restarted.kill()


def test_serve_creates_database_readable_by_owner_only(tmp_path: Path, workdir: Path) -> None:
    server = Server(workdir, tmp_path / "server.log")
    try:
        server.start()
        assert mode_of(workdir / "receiver-signing-key.pem") == 0o600
        assert mode_of(workdir / "receiver.db") == 0o600
        assert mode_of(workdir / "receiver.db-wal") == 0o600
    finally:
        server.kill()
