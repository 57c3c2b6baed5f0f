"""The follow-up worker under concurrent intake over real HTTP, with a scraper reading /metrics
and /readyz at the same time: every job ends done on its first attempt (on both stores)."""

from __future__ import annotations

import http.client
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
import structlog

from receiver.logs import configure_logging
from tests.conftest import FIXTURES, fixture_bytes
from tests.integration.conftest import StartServer
from tests.integration.harness import INBOUND_HEADER, INBOUND_SECRET, LiveServer
from tests.mocks.stedi import MockStediState, serve_mock_stedi

API_KEY = "load-test-stedi-key"
WEBHOOK_835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"
WEBHOOKS = 1000
CONNECTIONS = 16
# Webhooks sent at once before the worker has caught up again: Stedi delivers in bursts (its
# webhook concurrency setting), and each burst's jobs are claimed while their events are new.
BURST = 64
_JOB_GAUGE = re.compile(r'^receiver_jobs\{state="(\w+)"\} ([\d.]+)', re.MULTILINE)
_OUTCOMES = re.compile(r'^receiver_job_outcomes_total\{outcome="(\w+)"\} ([\d.]+)', re.MULTILINE)


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    """Warnings only: formatting thousands of info lines would be most of the test's time."""
    saved = structlog.get_config()
    configure_logging("json", "warning", stream=io.StringIO())
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.fixture
def mock_stedi() -> Iterator[tuple[str, MockStediState]]:
    with serve_mock_stedi(FIXTURES) as (url, state):
        state.api_key = API_KEY
        yield url, state


@pytest.fixture
def live(
    start_serving: StartServer, mock_stedi: tuple[str, MockStediState], quiet_logs: None
) -> LiveServer:
    """`receiver serve` on each store, acme holding an API key for the mock Stedi."""
    stedi_url, _ = mock_stedi
    return start_serving(
        stedi_api_key=API_KEY,
        stedi_healthcare_url=stedi_url,
        stedi_core_url=stedi_url,
        reconcile_interval_seconds=0,
    )


def webhook_bodies(n: int) -> list[bytes]:
    """`n` distinct 835 webhooks (own event and transaction ids) in the fixture's shape."""
    template = json.loads(fixture_bytes(WEBHOOK_835))
    bodies = []
    for _ in range(n):
        template["event"]["id"] = str(uuid.uuid4())
        template["event"]["detail"]["transactionId"] = str(uuid.uuid4())
        bodies.append(json.dumps(template).encode())
    return bodies


def scrape(http: httpx.Client, pattern: re.Pattern[str]) -> dict[str, int]:
    """One /metrics scrape's values of one labelled metric, by label."""
    resp = http.get("/metrics")
    assert resp.status_code == 200
    return {label: int(float(n)) for label, n in pattern.findall(resp.text)}


def connect(base_url: str) -> http.client.HTTPConnection:
    """A keep-alive connection. http.client rather than httpx: a third of the client CPU,
    which this process shares with the server, the worker and the mock Stedi."""
    return http.client.HTTPConnection("127.0.0.1", urlsplit(base_url).port, timeout=30)


def scrape_until(base_url: str, stop: threading.Event, seen: list[int]) -> None:
    """What a Prometheus scraper and a readiness probe do, as often as they are answered."""
    connection = connect(base_url)
    try:
        while not stop.is_set():
            for path in ("/metrics", "/readyz"):
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                seen.append(response.status)
    finally:
        connection.close()


def post_all(base_url: str, bodies: list[bytes]) -> list[int]:
    """POST each body as acme's webhook over one connection; the statuses."""
    headers = {"content-type": "application/json", INBOUND_HEADER: INBOUND_SECRET}
    connection = connect(base_url)
    statuses = []
    try:
        for body in bodies:
            connection.request("POST", "/webhooks/stedi/acme", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        connection.close()
    return statuses


def wait_for_the_queue(http: httpx.Client) -> dict[str, int]:
    """The job gauges once no job is pending or running."""
    deadline = time.monotonic() + 120
    counts = scrape(http, _JOB_GAUGE)
    while counts.get("pending", 0) + counts.get("running", 0) > 0:
        assert time.monotonic() < deadline, f"jobs still open: {counts}"
        time.sleep(0.02)
        counts = scrape(http, _JOB_GAUGE)
    return counts


def test_every_job_ends_done_under_concurrent_intake_and_scraping(live: LiveServer) -> None:
    bodies = webhook_bodies(WEBHOOKS)
    stop = threading.Event()
    scraped: list[int] = []
    scraper = threading.Thread(target=scrape_until, args=(live.base_url, stop, scraped))
    scraper.start()
    statuses: list[int] = []
    try:
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            for start in range(0, WEBHOOKS, BURST):
                burst = bodies[start : start + BURST]
                shares = [burst[i::CONNECTIONS] for i in range(CONNECTIONS)]
                sent = pool.map(post_all, [live.base_url] * CONNECTIONS, shares)
                statuses.extend(status for share in sent for status in share)
                counts = wait_for_the_queue(live.http)
    finally:
        stop.set()
        scraper.join(timeout=30)

    assert statuses == [200] * WEBHOOKS
    dead = live.http.get("/jobs", params={"status": "dead"}, headers=live.bearer()).json()
    assert [job["last_error"] for job in dead["items"]] == []
    assert counts == {"pending": 0, "running": 0, "done": WEBHOOKS, "dead": 0}
    # Each on its first attempt: a lookup that missed its event would have been a retry.
    assert scrape(live.http, _OUTCOMES) == {"done": WEBHOOKS}
    assert len(scraped) > 2
    assert set(scraped) == {200}
