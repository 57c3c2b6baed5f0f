"""Fan-out as deployed: a Stedi 835 webhook into `receiver serve` ends as signed deliveries at
a local sink; a `receiver worker` killed mid-send is replaced and the resend keeps its id."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from tests.e2e.server import Server, run_cli_json, spawn_worker
from tests.e2e.test_pipeline import (
    MockStediState,
    mock_stedi,
    pipeline_env,
    post_835,
    set_up,
)
from tests.mocks.serving import serve_app
from tests.mocks.sink import SinkState, create_sink

__all__ = ["mock_stedi"]  # the fixture, shared with the pipeline tests

TXN_835 = "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def sink_url() -> Iterator[tuple[str, SinkState]]:
    app, state = create_sink(())
    with serve_app(app, "e2e-sink") as base:
        yield f"{base}/hook", state


def subscribe(cwd: Path, env: dict[str, str], url: str, state: SinkState) -> str:
    created = run_cli_json(cwd, "subscriptions", "add", url, "--type", "claim.*", "--json", env=env)
    state.secrets = (str(created["secret"]),)
    return str(created["id"])


def test_a_remittance_reaches_the_subscriber_signed(
    tmp_path: Path,
    mock_stedi: tuple[str, MockStediState],
    sink_url: tuple[str, SinkState],
) -> None:
    stedi_url, _ = mock_stedi
    url, sink = sink_url
    env = pipeline_env(stedi_url, RECEIVER_ALLOW_INSECURE_DESTINATIONS="true")
    env["RECEIVER_WORKER_IDLE_MS"] = "600000"  # only wake-ups may move the work along
    set_up(tmp_path, env)
    subscription_id = subscribe(tmp_path, env, url, sink)
    server = Server(tmp_path, tmp_path / "serve.log", env=env).start()
    try:
        time.sleep(0.5)  # the loops' first empty passes are over: they now wait for wake-ups
        event_id = post_835(server)
        wait_until(lambda: bool(sink.received), "the delivery")
        (got,) = sink.received
        assert got.verified_with == sink.secrets  # standardwebhooks verifies it
        body = orjson.loads(got.body)
        assert body["type"] == "claim.remittance.received"
        assert body["id"] == got.webhook_id
        assert body["account"] == "acme"
        assert body["data"]["transaction_id"] == TXN_835
        listed = run_cli_json(
            tmp_path, "deliveries", "list", "--subscription", subscription_id, "--json", env=env
        )
        (delivery,) = listed["items"]
        assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)
        assert delivery["message_id"] == got.webhook_id
        del event_id
    finally:
        server.kill()


def test_a_worker_killed_mid_send_is_replaced_and_resends_the_same_id(
    tmp_path: Path,
    mock_stedi: tuple[str, MockStediState],
    sink_url: tuple[str, SinkState],
) -> None:
    stedi_url, _ = mock_stedi
    url, sink = sink_url
    env = pipeline_env(
        stedi_url,
        RECEIVER_ALLOW_INSECURE_DESTINATIONS="true",
        RECEIVER_WORKER_LEASE_SECONDS="2",
        RECEIVER_DELIVERY_TIMEOUT_SECONDS="1",
    )
    set_up(tmp_path, env)
    subscribe(tmp_path, env, url, sink)
    sink.delay_seconds = 30.0  # the first send hangs until its worker is killed
    server = Server(tmp_path, tmp_path / "serve.log", env=env).start(workers=False)
    workers: list[subprocess.Popen[bytes]] = []

    def start_worker() -> None:
        workers.append(spawn_worker(tmp_path, env, tmp_path / "worker.log"))

    try:
        post_835(server)
        start_worker()
        wait_until(lambda: bool(sink.received), "the first send")
        workers[0].kill()  # SIGKILL: no attempt row, the lease is left to run out
        workers[0].wait(timeout=10)
        sink.delay_seconds = 0.0
        start_worker()
        wait_until(lambda: len(sink.received) >= 2, "the resend")
        first, second = sink.received[:2]
        assert first.webhook_id == second.webhook_id
        assert first.body == second.body
        assert second.verified_with == sink.secrets

        def delivered() -> bool:
            listed = run_cli_json(tmp_path, "deliveries", "list", "--status", "delivered", env=env)
            return bool(listed["items"])

        wait_until(delivered, "the delivered state")
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        server.kill()
