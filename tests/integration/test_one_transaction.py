"""One Stedi transaction told by both products (a legacy `transaction.processed.v2` webhook and
an event destination), over real HTTP with the worker on: one document set, one remittance on
the claim's timeline, and one delivery per message type at a verifying sink, with the same
`webhook-id` whichever arrived first (on both stores)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from receiver.delivery.message_id import message_id
from receiver.models import Document
from tests.conftest import FIXTURES, fixture_bytes
from tests.integration.conftest import StartServer
from tests.integration.harness import (
    DESTINATION_BODY,
    WHSEC,
    LiveServer,
    destination_fixture_headers,
)
from tests.mocks.serving import serve_app
from tests.mocks.sink import SinkState, create_sink
from tests.mocks.stedi import MockStediState, serve_mock_stedi

API_KEY = "one-transaction-stedi-key"
WEBHOOK_835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"
TXN = "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
PCN = "SYN0001842"
TYPES = ("claim.remittance.received", "stedi.transaction.processed")


@pytest.fixture
def mock_stedi() -> Iterator[tuple[str, MockStediState]]:
    with serve_mock_stedi(FIXTURES) as (url, state):
        state.api_key = API_KEY
        yield url, state


@pytest.fixture
def sink() -> Iterator[tuple[str, SinkState]]:
    app, state = create_sink(())
    with serve_app(app, "one-transaction-sink") as base:
        yield f"{base}/hook", state


@pytest.fixture
def live(
    start_serving: StartServer,
    mock_stedi: tuple[str, MockStediState],
    sink: tuple[str, SinkState],
) -> LiveServer:
    """`receiver serve` on each store, with a subscription to every type at the sink."""
    stedi_url, _ = mock_stedi
    server = start_serving(
        stedi_api_key=API_KEY,
        stedi_healthcare_url=stedi_url,
        stedi_core_url=stedi_url,
        reconcile_interval_seconds=0,
        allow_insecure_destinations=True,
    )
    url, state = sink
    resp = server.http.post(
        "/subscriptions", json={"url": url, "types": ["*"]}, headers=server.bearer("admin")
    )
    assert resp.status_code == 201, resp.text
    state.secrets = (resp.json()["secret"],)
    return server


def send_webhook(server: LiveServer) -> httpx.Response:
    return server.stedi(fixture_bytes(WEBHOOK_835))


def send_destination(server: LiveServer) -> httpx.Response:
    """The event-destination fixture, signed now (its own timestamp is long past)."""
    body = fixture_bytes(DESTINATION_BODY)
    headers = destination_fixture_headers()
    now = datetime.now(UTC)
    headers["webhook-timestamp"] = str(int(now.timestamp()))
    headers["webhook-signature"] = Webhook(WHSEC).sign(headers["webhook-id"], now, body.decode())
    return server.http.post(
        "/webhooks/stedi/acme/event-destinations", content=body, headers=headers
    )


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def jobs_done(server: LiveServer, event_id: str) -> bool:
    resp = server.http.get("/jobs", params={"event_id": event_id}, headers=server.bearer())
    return [job["status"] for job in resp.json()["items"]] == ["done"]


def deliveries(server: LiveServer) -> list[dict[str, Any]]:
    resp = server.http.get("/deliveries", headers=server.bearer())
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def send(server: LiveServer, order: str) -> list[str]:
    """Both events, at once or one after the other (the first done before the second is
    sent); their event ids, webhook's first."""
    senders = (send_webhook, send_destination)
    if order == "at once":
        answers: dict[int, httpx.Response] = {}
        threads = [
            threading.Thread(target=lambda i=i: answers.__setitem__(i, senders[i](server)))
            for i in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        responses = [answers[0], answers[1]]
    else:
        first, second = senders if order == "webhook first" else senders[::-1]
        earlier = first(server)
        wait_until(lambda: jobs_done(server, earlier.json()["event_id"]), "the first job")
        later = second(server)
        responses = [earlier, later] if order == "webhook first" else [later, earlier]
    for resp in responses:
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "accepted"  # two events: different dedup keys
    return [resp.json()["event_id"] for resp in responses]


def stored_documents(server: LiveServer, event_ids: list[str]) -> tuple[Any, ...]:
    """The transaction's 835 and each event's documents, read from the server's database."""

    async def read() -> tuple[Document | None, list[list[Document]]]:
        assert server.store_of is not None
        store = server.store_of()
        await store.open()
        try:
            shared = await store.fetch_transaction_document("acme", TXN, "835")
            return shared, [await store.fetch_documents(e) for e in event_ids]
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.parametrize("order", ["at once", "webhook first", "destination first"])
def test_one_transaction_from_both_products_is_published_once(
    live: LiveServer,
    sink: tuple[str, SinkState],
    mock_stedi: tuple[str, MockStediState],
    order: str,
) -> None:
    _, state = sink
    event_ids = send(live, order)
    wait_until(lambda: all(jobs_done(live, e) for e in event_ids), "both jobs")
    wait_until(lambda: all(d["status"] == "delivered" for d in deliveries(live)), "the deliveries")

    expected = {
        t: message_id(account="acme", about=("stedi-transaction", TXN), message_type=t)
        for t in TYPES
    }
    got = sorted((orjson.loads(r.body)["type"], r.webhook_id) for r in state.received)
    assert got == sorted(expected.items())  # one each, the same id in every order
    assert all(r.verified_with == state.secrets for r in state.received)
    assert sorted(d["message_id"] for d in deliveries(live)) == sorted(expected.values())

    timeline = live.http.get(f"/claims/{PCN}", headers=live.bearer()).json()["timeline"]
    assert [entry["kind"] for entry in timeline] == ["remittance"]
    assert timeline[0]["event_id"] in event_ids

    shared, per_event = stored_documents(live, event_ids)
    assert shared is not None
    assert shared.body == fixture_bytes("stedi/report-835-era.json")
    assert sorted(len(found) for found in per_event) == [0, 1]
    # The second job found the document stored: at most the racing first fetches went out.
    _, stedi = mock_stedi
    report_fetches = [r for r in stedi.requests if r.path.endswith(f"{TXN}/835")]
    assert len(report_fetches) == (1 if order != "at once" else len(report_fetches))
    assert 1 <= len(report_fetches) <= 2
