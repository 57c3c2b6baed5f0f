"""The follow-up pipeline as deployed: `receiver serve` (with its in-process worker, or web
only beside a `receiver worker` process) against a mock Stedi over loopback."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES, default_tls, fixture_bytes
from tests.e2e.server import Server, clean_env, run_cli, run_cli_json, spawn_worker
from tests.mocks.stedi import MockStediState, serve_mock_stedi

API_KEY = "test-stedi-api-key"
INBOUND = "acme-inbound-secret"
PCN = "SYN0001842"
WEBHOOK_835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"


@pytest.fixture
def mock_stedi() -> Iterator[tuple[str, MockStediState]]:
    with serve_mock_stedi(FIXTURES) as (url, state):
        state.api_key = API_KEY
        yield url, state


def pipeline_env(stedi_url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        RECEIVER_STEDI_HEALTHCARE_URL=stedi_url,
        RECEIVER_STEDI_CORE_URL=stedi_url,
        RECEIVER_WORKER_IDLE_MS="100",
        ACME_INBOUND=INBOUND,
        ACME_KEY=API_KEY,
        **extra,
    )


def set_up(cwd: Path, env: dict[str, str]) -> str:
    """Add the account and an ops client; return the client's events:read token getter."""
    run_cli(cwd, "migrate", env=env)
    run_cli(
        cwd,
        "accounts",
        "add",
        "acme",
        "--stedi-account-id",
        "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6",
        "--inbound-header",
        "x-api-key",
        "--inbound-secret-env",
        "ACME_INBOUND",
        "--api-key-env",
        "ACME_KEY",
        env=env,
    )
    client = run_cli_json(cwd, "clients", "create", "ops", "--scope", "events:read", env=env)
    return f"{client['client_id']}:{client['client_secret']}"


def token(server: Server, credentials: str) -> str:
    client_id, secret = credentials.split(":", 1)
    resp = httpx.post(
        server.url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def post_835(server: Server) -> str:
    resp = httpx.post(
        server.url + "/webhooks/stedi/acme",
        content=fixture_bytes(WEBHOOK_835),
        headers={"content-type": "application/json", "x-api-key": INBOUND},
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["event_id"])


def wait_for_timeline(server: Server, bearer: str, timeout: float = 20.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = httpx.get(
            f"{server.url}/claims/{PCN}",
            headers={"authorization": f"Bearer {bearer}"},
            verify=default_tls(),
        )
        if resp.status_code == 200:
            return dict(resp.json())
        assert resp.status_code == 404, resp.text
        time.sleep(0.1)
    raise AssertionError(f"no timeline after {timeout}s: {server.log_text()[-2000:]}")


def test_serve_fetches_the_835_and_builds_the_claim_timeline(
    tmp_path: Path, mock_stedi: tuple[str, MockStediState]
) -> None:
    stedi_url, state = mock_stedi
    env = pipeline_env(stedi_url)
    credentials = set_up(tmp_path, env)
    server = Server(tmp_path, tmp_path / "serve.log", env=env).start()
    try:
        event_id = post_835(server)
        bearer = token(server, credentials)
        timeline = wait_for_timeline(server, bearer)
        entries = timeline["timeline"]
        assert isinstance(entries, list)
        assert [(e["kind"], e["event_id"]) for e in entries] == [("remittance", event_id)]
        assert entries[0]["data"]["paid_amount"] == "132.40"
        paths = [r.path for r in state.requests]
        assert paths == [
            "/change/medicalnetwork/reports/v2/c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84/835"
        ]
        assert state.requests[0].headers["authorization"] == API_KEY
        jobs = httpx.get(
            f"{server.url}/jobs?event_id={event_id}",
            headers={"authorization": f"Bearer {bearer}"},
        ).json()["items"]
        assert [(j["status"], j["attempts"]) for j in jobs] == [("done", 1)]
        event = httpx.get(
            f"{server.url}/events/{event_id}", headers={"authorization": f"Bearer {bearer}"}
        ).json()
        assert event["status"] == "processed"
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'receiver_job_outcomes_total{outcome="done"} 1.0' in metrics
        assert 'receiver_jobs{state="done"} 1.0' in metrics
        assert 'receiver_upstream_requests_total{endpoint="report_835",status="200"} 1.0' in metrics
    finally:
        server.kill()


def test_intake_wakes_the_in_process_worker(
    tmp_path: Path, mock_stedi: tuple[str, MockStediState]
) -> None:
    """With an idle interval of 10 minutes, the report is still fetched at once: intake wakes
    the worker instead of leaving the job for the next poll."""
    stedi_url, _ = mock_stedi
    env = pipeline_env(stedi_url)
    env["RECEIVER_WORKER_IDLE_MS"] = "600000"
    credentials = set_up(tmp_path, env)
    server = Server(tmp_path, tmp_path / "serve.log", env=env).start()
    try:
        time.sleep(0.5)  # let the worker's first (empty) pass start its idle wait
        post_835(server)
        wait_for_timeline(server, token(server, credentials), timeout=10.0)
    finally:
        server.kill()


def test_worker_killed_mid_fetch_loses_nothing_and_publishes_once(
    tmp_path: Path, mock_stedi: tuple[str, MockStediState]
) -> None:
    stedi_url, state = mock_stedi
    env = pipeline_env(stedi_url, RECEIVER_WORKER_LEASE_SECONDS="2")
    credentials = set_up(tmp_path, env)
    state.delay_seconds = 5.0  # the first fetch hangs until the worker is killed
    server = Server(tmp_path, tmp_path / "serve.log", env=env).start(workers=False)
    workers: list[subprocess.Popen[bytes]] = []

    def start_worker() -> subprocess.Popen[bytes]:
        proc = spawn_worker(tmp_path, env, tmp_path / "worker.log")
        workers.append(proc)
        return proc

    try:
        event_id = post_835(server)
        first = start_worker()
        deadline = time.monotonic() + 20
        while not state.requests:
            assert time.monotonic() < deadline, "the worker never fetched"
            time.sleep(0.05)
        first.kill()
        first.wait(timeout=10)
        state.delay_seconds = 0.0
        start_worker()
        timeline = wait_for_timeline(server, token(server, credentials))
        entries = timeline["timeline"]
        assert isinstance(entries, list)
        assert [(e["kind"], e["event_id"]) for e in entries] == [("remittance", event_id)]
        assert len(state.requests) == 2  # the killed fetch, then the one after the lease
        messages = run_cli(tmp_path, "jobs", "list", "--event-id", event_id, "--json", env=env)
        assert '"status": "done"' in messages
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        server.kill()
