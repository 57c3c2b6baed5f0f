"""Scale-out as deployed on PostgreSQL: two `receiver serve --no-workers` and two `receiver
worker` processes on one database and one key file. Duplicates sent to both web processes at
once are stored once, each report is fetched once, each message reaches each subscription
once, a token from one web process is accepted by the other, and a worker SIGKILLed mid-run
loses nothing: the other takes its leased work over."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import default_tls, fixture_bytes
from tests.e2e.server import Server, run_cli_json, shared_key, spawn_worker
from tests.e2e.test_pipeline import (
    INBOUND,
    WEBHOOK_835,
    MockStediState,
    mock_stedi,
    pipeline_env,
    set_up,
    token,
)
from tests.e2e.test_postgres_wakeup import database_url
from tests.mocks.serving import serve_app
from tests.mocks.sink import SinkState, create_sink

pytestmark = pytest.mark.postgres
__all__ = ["database_url", "mock_stedi"]  # the fixtures, shared with the other e2e tests

BEFORE_KILL = 12  # events while both workers run: everything exactly once
AFTER_KILL = 12  # events while one worker is killed mid-run: nothing lost
KILL_AFTER_FETCHES = 4  # of the second batch's report fetches, before the SIGKILL
REPORT_PREFIX = "/change/medicalnetwork/reports/v2/"


def fresh_835() -> tuple[str, bytes]:
    """The 835 webhook fixture with a new Stedi event id and transaction id: (txn id, body)."""
    payload = json.loads(fixture_bytes(WEBHOOK_835))
    transaction_id = str(uuid.uuid4())
    payload["event"]["id"] = str(uuid.uuid4())
    payload["event"]["detail"]["transactionId"] = transaction_id
    return transaction_id, json.dumps(payload).encode()


def send_twice(webs: tuple[Server, Server], bodies: list[bytes]) -> list[tuple[Any, Any]]:
    """Each body to both web processes at the same time; the two JSON answers per body."""
    headers = {"content-type": "application/json", "x-api-key": INBOUND}

    def post(url: str, body: bytes) -> Any:
        answer = httpx.post(
            f"{url}/webhooks/stedi/acme", content=body, headers=headers, verify=default_tls()
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        pairs = [
            (pool.submit(post, webs[0].url, b), pool.submit(post, webs[1].url, b)) for b in bodies
        ]
        return [(one.result(timeout=20), two.result(timeout=20)) for one, two in pairs]


def assert_stored_once(answers: list[tuple[Any, Any]]) -> list[str]:
    """Each pair names one event, accepted by one web process and a duplicate at the other."""
    event_ids = []
    for one, two in answers:
        assert one["event_id"] == two["event_id"], (one, two)
        assert sorted([one["status"], two["status"]]) == ["accepted", "duplicate"], (one, two)
        event_ids.append(one["event_id"])
    assert len(set(event_ids)) == len(event_ids)
    return event_ids


def report_fetches(state: MockStediState) -> Counter[str]:
    """How many times each transaction's report was fetched."""
    with state._lock:
        paths = [r.path for r in state.requests]
    return Counter(
        p.removeprefix(REPORT_PREFIX).split("/")[0] for p in paths if p.startswith(REPORT_PREFIX)
    )


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def api(server: Server, bearer: str, path: str) -> Any:
    answer = httpx.get(
        server.url + path, headers={"authorization": f"Bearer {bearer}"}, verify=default_tls()
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def deliveries(server: Server, bearer: str, subscription_id: str) -> list[dict[str, Any]]:
    listed = api(server, bearer, f"/deliveries?subscription={subscription_id}&limit=500")
    assert listed["next_cursor"] is None
    return list(listed["items"])


@pytest.fixture
def sinks() -> Iterator[tuple[tuple[str, SinkState], tuple[str, SinkState]]]:
    """Two subscribers, each a sink of its own over loopback."""
    (one_app, one), (two_app, two) = create_sink(()), create_sink(())
    with ExitStack() as stack:
        one_url = stack.enter_context(serve_app(one_app, "scale-sink-one"))
        two_url = stack.enter_context(serve_app(two_app, "scale-sink-two"))
        yield (f"{one_url}/hook", one), (f"{two_url}/hook", two)


def test_two_web_and_two_worker_processes_do_everything_once_and_lose_nothing(
    tmp_path: Path,
    mock_stedi: tuple[str, MockStediState],
    database_url: str,
    sinks: tuple[tuple[str, SinkState], tuple[str, SinkState]],
) -> None:
    stedi_url, stedi = mock_stedi
    env = pipeline_env(
        stedi_url,
        RECEIVER_DATABASE_URL=database_url,
        RECEIVER_ALLOW_INSECURE_DESTINATIONS="true",
        RECEIVER_WORKER_LEASE_SECONDS="2",  # a killed worker's leases run out quickly
        RECEIVER_DELIVERY_TIMEOUT_SECONDS="1",
        **shared_key(tmp_path),
    )
    credentials = set_up(tmp_path, env)
    subscriptions = []
    for url, sink in sinks:
        created = run_cli_json(tmp_path, "subscriptions", "add", url, "--type", "*", env=env)
        sink.secrets = (str(created["secret"]),)
        subscriptions.append((str(created["id"]), sink))
    # Each process in a directory of its own, as on machines of their own.
    for name in ("web1", "web2", "worker1", "worker2"):
        (tmp_path / name).mkdir()
    webs = (
        Server(tmp_path / "web1", tmp_path / "web1.log", env=env),
        Server(tmp_path / "web2", tmp_path / "web2.log", env=env),
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for web in webs:
            web.start(workers=False)
        for name in ("worker1", "worker2"):
            workers.append(spawn_worker(tmp_path / name, env, tmp_path / f"{name}.log"))

        # A token from one web process is accepted by the other, both ways.
        from_one, from_two = token(webs[0], credentials), token(webs[1], credentials)
        assert api(webs[1], from_one, "/events?limit=1")["items"] == []
        assert api(webs[0], from_two, "/events?limit=1")["items"] == []

        # Both workers running: every event once, every report and message once.
        first = [fresh_835() for _ in range(BEFORE_KILL)]
        first_events = assert_stored_once(send_twice(webs, [body for _, body in first]))

        def all_delivered(expected: int) -> Callable[[], bool]:
            def check() -> bool:
                for subscription_id, _ in subscriptions:
                    rows = deliveries(webs[0], from_one, subscription_id)
                    if len(rows) < expected or any(r["status"] != "delivered" for r in rows):
                        return False
                return True

            return check

        def jobs_done(event_ids: list[str]) -> bool:
            jobs = api(webs[1], from_two, "/jobs?status=done&limit=500")["items"]
            return set(event_ids) <= {j["event_id"] for j in jobs}

        wait_until(lambda: jobs_done(first_events), "the first batch's jobs")
        per_event = len(deliveries(webs[0], from_one, subscriptions[0][0])) // BEFORE_KILL
        assert per_event >= 1
        wait_until(all_delivered(per_event * BEFORE_KILL), "the first batch's deliveries")
        assert report_fetches(stedi) == Counter({txn: 1 for txn, _ in first})
        for subscription_id, sink in subscriptions:
            rows = deliveries(webs[0], from_one, subscription_id)
            assert len(rows) == per_event * BEFORE_KILL
            received = Counter(sink.ids())
            assert received == Counter({r["message_id"]: 1 for r in rows})
            assert all(r.verified_with == sink.secrets for r in sink.received)

        # Slow reports, so a worker is killed while it holds work; its leases run out and the
        # other worker finishes it.
        stedi.delay_seconds = 0.2
        fetched_before = sum(report_fetches(stedi).values())
        second = [fresh_835() for _ in range(AFTER_KILL)]
        with ThreadPoolExecutor(max_workers=1) as pool:
            sent = pool.submit(send_twice, webs, [body for _, body in second])
            wait_until(
                lambda: sum(report_fetches(stedi).values()) >= fetched_before + KILL_AFTER_FETCHES,
                "the second batch's first fetches",
            )
            workers[0].kill()
            workers[0].wait(timeout=10)
            second_events = assert_stored_once(sent.result(timeout=30))
        assert workers[0].returncode == -9

        wait_until(lambda: jobs_done(first_events + second_events), "every job", timeout=25)
        total = BEFORE_KILL + AFTER_KILL
        wait_until(all_delivered(per_event * total), "every delivery", timeout=25)
        events = api(webs[1], from_two, "/events?limit=500")["items"]
        assert len(events) == total  # each stored once, none lost
        assert all(e["status"] == "processed" for e in events)
        fetches = report_fetches(stedi)
        assert set(fetches) == {txn for txn, _ in first + second}
        # A report the killed worker was fetching is fetched again by the other: never more.
        assert all(fetches[txn] in (1, 2) for txn, _ in second)
        for subscription_id, sink in subscriptions:
            rows = deliveries(webs[0], from_one, subscription_id)
            assert len(rows) == per_event * total
            assert all(r["status"] == "delivered" for r in rows)
            # Each message reached the subscriber; a resend after the kill keeps its webhook-id.
            assert set(sink.ids()) == {r["message_id"] for r in rows}
            assert all(r.verified_with == sink.secrets for r in sink.received)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=15)
        for web in webs:
            web.kill()
