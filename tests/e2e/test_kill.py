"""Ack only after commit: SIGKILL the server mid-stream, and nothing it acknowledged is lost."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import httpx

from tests.conftest import FIXTURES
from tests.e2e.server import Server, clean_env, run_cli, run_cli_json

STEDI_FIXTURE = FIXTURES / "stedi" / "transaction-processed-v2.inbound-835.webhook.json"
STEDI_ACCOUNT_ID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"
INBOUND_SECRET = "e2e-kill-inbound-9c2e4a6b8d"
TOTAL = 50
KILL_AFTER = 25
KILL_DELAY_S = 0.005


def webhook_body() -> tuple[str, bytes]:
    """The 835 fixture with a fresh event id and transaction id; (event id, body)."""
    payload = json.loads(STEDI_FIXTURE.read_bytes())
    event_id = str(uuid.uuid4())
    payload["event"]["id"] = event_id
    payload["event"]["detail"]["transactionId"] = str(uuid.uuid4())
    return event_id, json.dumps(payload).encode()


def test_sigkill_mid_stream_loses_no_acknowledged_event(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    run_cli(workdir, "migrate")
    run_cli(
        workdir, "accounts", "add", "acme", "--stedi-account-id", STEDI_ACCOUNT_ID,
        "--inbound-header", "x-api-key", "--inbound-secret-env", "ACME_IN",
        env=clean_env(ACME_IN=INBOUND_SECRET),
    )  # fmt: skip
    server = Server(workdir, tmp_path / "server.log")
    restarted: Server | None = None
    enough = threading.Event()

    def kill_soon() -> None:
        # A few milliseconds after the 25th ack, so the kill usually lands inside a request.
        if enough.wait(30):
            time.sleep(KILL_DELAY_S)
            server.kill()

    killer = threading.Thread(target=kill_soon, daemon=True)
    acked: dict[str, str] = {}  # our receiver event id -> the Stedi event id we sent
    failed = 0
    try:
        server.start()
        killer.start()
        headers = {"content-type": "application/json", "x-api-key": INBOUND_SECRET}
        with httpx.Client(base_url=server.url, timeout=5.0) as http:
            for _ in range(TOTAL):
                stedi_id, body = webhook_body()
                try:
                    answer = http.post("/webhooks/stedi/acme", content=body, headers=headers)
                except httpx.TransportError:
                    failed += 1
                    continue
                if answer.status_code == 200:
                    assert answer.json()["status"] == "accepted", answer.text
                    acked[answer.json()["event_id"]] = stedi_id
                if len(acked) == KILL_AFTER:
                    enough.set()
        killer.join(timeout=15)
        assert not killer.is_alive()
        assert server.proc is not None
        assert server.proc.returncode == -9, "the server was not SIGKILLed"
        assert len(acked) >= KILL_AFTER
        assert failed > 0, "every request was answered: the kill did not land mid-stream"
        assert len(acked) + failed == TOTAL

        restarted = Server(workdir, tmp_path / "server2.log").start()
        stored = run_cli_json(workdir, "events", "list", "--limit", "500")["items"]
        by_id = {e["id"]: e for e in stored}
        missing = sorted(set(acked) - set(by_id))
        assert not missing, f"{len(missing)} acknowledged events lost: {missing}"
        for event_id, stedi_id in acked.items():
            assert by_id[event_id]["external_id"] == stedi_id
            assert by_id[event_id]["account"] == "acme"
        assert len(stored) <= TOTAL

        # Each acknowledged event's follow-up job was committed with it.
        jobs = run_cli_json(workdir, "jobs", "list", "--limit", "500")["items"]
        assert set(acked) <= {j["event_id"] for j in jobs}

        # The restarted server answers again.
        stedi_id, body = webhook_body()
        answer = httpx.post(
            restarted.url + "/webhooks/stedi/acme", content=body, headers=headers, timeout=5.0
        )
        assert answer.status_code == 200, answer.text
    finally:
        enough.set()
        server.kill()
        if restarted is not None:
            restarted.kill()
