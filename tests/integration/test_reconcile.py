"""Reconciliation against a real SQLite store and the mock Stedi's poll-transactions endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from receiver.followup.reconcile import Reconciler
from receiver.followup.worker import Worker
from receiver.intake.stedi import parse_stedi_webhook
from receiver.models import Account, EventFilter, JobFilter, StoredEvent
from receiver.policy import RetryPolicy
from receiver.store.base import PROCESS_JOB
from receiver.store.sqlite import SqliteStore
from receiver.upstream.stedi import StediClient
from tests.conftest import FIXTURES, fixture_bytes
from tests.mocks.stedi import POLL_FIXTURE, MockStediState, serve_mock_stedi

pytestmark = pytest.mark.anyio

API_KEY = "test-stedi-key-9f8e7d6c5b4a"
STEDI_ACCOUNT_ID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"
TXN_837 = "0f3a9c2e-6b1d-4e8a-9c47-2d5e8f1a7b30"
TXN_277 = "8b2e4f6a-1c3d-4e5f-9a7b-0c1d2e3f4a62"
TXN_835 = "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
WEBHOOK_835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"
START = datetime(2025, 3, 21, 8, 12, tzinfo=UTC)
CURSOR = "stedi-poll:acme"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Rig:
    store: SqliteStore
    mock: MockStediState
    stedi: StediClient
    reconciler: Reconciler
    clock: FakeClock

    async def events(self) -> list[StoredEvent]:
        page = await self.store.list_events(EventFilter(), limit=100, cursor=None)
        return page.items

    def poll_queries(self) -> list[dict[str, list[str]]]:
        return [parse_qs(r.query) for r in self.mock.requests if r.path == "/polling/transactions"]


@pytest.fixture
def mock_stedi() -> Iterator[tuple[str, MockStediState]]:
    with serve_mock_stedi(FIXTURES) as running:
        yield running


@pytest.fixture
async def rig(tmp_path: Path, mock_stedi: tuple[str, MockStediState]) -> AsyncIterator[Rig]:
    """An open SqliteStore with account `acme` (with an API key) and a reconciler on the mock."""
    base_url, state = mock_stedi
    store = SqliteStore(tmp_path / "receiver.db")
    await store.open()
    await store.add_account(
        Account(name="acme", stedi_account_id=STEDI_ACCOUNT_ID, created_at=START, api_key=API_KEY)
    )
    stedi = StediClient(
        healthcare_url=base_url,
        core_url=base_url,
        read_timeout=5.0,
        download_hosts="127.0.0.1",
        allow_private_downloads=True,  # the mock is on loopback
    )
    clock = FakeClock(START)
    reconciler = Reconciler(store=store, stedi=stedi, clock=clock, interval_seconds=300)
    try:
        yield Rig(store=store, mock=state, stedi=stedi, reconciler=reconciler, clock=clock)
    finally:
        await stedi.aclose()
        await store.close()


def fixture_items() -> dict[str, dict[str, Any]]:
    items = json.loads(fixture_bytes(POLL_FIXTURE))["items"]
    return {item["transactionId"]: item for item in items}


async def test_run_once_records_the_277_835_and_our_837_with_a_process_job(rig: Rig) -> None:
    assert await rig.reconciler.run_once() == 3

    events = {e.transaction_id: e for e in await rig.events()}
    assert set(events) == {TXN_277, TXN_835, TXN_837}
    for txn, transaction_set, direction in (
        (TXN_277, "277", "INBOUND"),
        (TXN_835, "835", "INBOUND"),
        (TXN_837, "837", "OUTBOUND"),
    ):
        event = events[txn]
        assert (event.source, event.type, event.account, event.direction) == (
            "stedi",
            "transaction.processed.v2",
            "acme",
            direction,
        )
        assert event.transaction_set == transaction_set
        assert event.external_id == f"poll:{txn}"
        assert event.summary["reconciled"] is True
        assert event.summary["stedi_account_id"] == STEDI_ACCOUNT_ID
        assert event.summary["processed_at"] == fixture_items()[txn]["processedAt"]
        jobs = await rig.store.list_jobs(JobFilter(event_id=event.id), limit=10, cursor=None)
        assert [(j.kind, j.status) for j in jobs.items] == [(PROCESS_JOB, "pending")]
    assert rig.mock.requests[0].headers["authorization"] == API_KEY


async def test_a_second_run_creates_nothing_and_resumes_from_the_saved_time(rig: Rig) -> None:
    await rig.reconciler.run_once()
    requests_before = len(rig.poll_queries())
    # The 835's processedAt (08:11:02.771) is later than now - 60 s, so the cursor is capped.
    assert await rig.store.fetch_poll_cursor(CURSOR) == "time:2025-03-21T08:11:00.000Z"

    assert await rig.reconciler.run_once() == 0

    assert len(await rig.events()) == 3
    assert rig.poll_queries()[requests_before]["startDateTime"] == ["2025-03-21T08:11:00.000Z"]


async def test_a_transaction_delivered_by_webhook_is_not_duplicated(rig: Rig) -> None:
    body = fixture_bytes(WEBHOOK_835)
    account = await rig.store.fetch_account("acme")
    assert account is not None
    webhook = parse_stedi_webhook(
        json.loads(body),
        account=account,
        event_id="evt_835",
        body=body,
        headers={},
        received_at=START,
    )
    assert (await rig.store.record_inbound(webhook, PROCESS_JOB)).created

    assert await rig.reconciler.run_once() == 2

    events = await rig.events()
    assert sorted((e.transaction_id, e.external_id.startswith("poll:")) for e in events) == [
        (TXN_837, True),
        (TXN_277, True),
        (TXN_835, False),
    ]


async def test_the_first_start_date_time_is_at_least_a_minute_in_the_past(rig: Rig) -> None:
    await rig.reconciler.run_once()

    first = rig.poll_queries()[0]
    assert "pageToken" not in first
    assert first["pageSize"] == ["100"]
    start = datetime.fromisoformat(first["startDateTime"][0])
    assert start.tzinfo is not None
    assert start <= START - timedelta(seconds=60)
    assert start == START - timedelta(seconds=360)


async def test_pagination_follows_next_page_token(rig: Rig) -> None:
    items = fixture_items()
    rig.mock.poll_pages = [
        {"items": [items[TXN_837], items[TXN_277]], "nextPageToken": "tok-2"},
        {"items": [items[TXN_835]]},
    ]

    assert await rig.reconciler.run_once() == 3

    queries = rig.poll_queries()
    assert len(queries) == 2
    assert "startDateTime" in queries[0]
    assert queries[1]["pageToken"] == ["tok-2"]
    assert "startDateTime" not in queries[1]
    assert {e.transaction_id for e in await rig.events()} == {TXN_837, TXN_277, TXN_835}
    assert (await rig.store.fetch_poll_cursor(CURSOR) or "").startswith("time:")


async def test_stopping_at_the_page_bound_saves_the_page_token(rig: Rig) -> None:
    items = fixture_items()
    rig.mock.poll_pages = [{"items": [items[TXN_277]], "nextPageToken": "tok-more"}]
    bounded = Reconciler(
        store=rig.store, stedi=rig.stedi, clock=rig.clock, interval_seconds=300, max_pages=2
    )

    assert await bounded.run_once() == 1

    assert len(rig.poll_queries()) == 2
    assert await rig.store.fetch_poll_cursor(CURSOR) == "page:tok-more"
    await bounded.run_once()
    assert rig.poll_queries()[2]["pageToken"] == ["tok-more"]


async def test_an_account_without_an_api_key_is_skipped(rig: Rig) -> None:
    account = await rig.store.fetch_account("acme")
    assert account is not None
    await rig.store.update_account(replace(account, api_key=None))

    assert await rig.reconciler.run_once() == 0

    assert rig.mock.requests == []
    assert await rig.store.fetch_poll_cursor(CURSOR) is None


async def test_an_upstream_failure_keeps_the_cursor_and_continues(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.store.save_poll_cursor(CURSOR, "time:2025-03-21T08:00:00.000Z", START)
    await rig.store.add_account(
        Account(name="beta", stedi_account_id="beta-id", created_at=START, api_key="beta-key")
    )
    rig.mock.script = [(500, {})]  # acme (listed first) gets the 500

    assert await rig.reconciler.run_once() == 3

    assert await rig.store.fetch_poll_cursor(CURSOR) == "time:2025-03-21T08:00:00.000Z"
    assert await rig.store.fetch_poll_cursor("stedi-poll:beta") is not None
    assert {e.account for e in await rig.events()} == {"beta"}
    assert API_KEY not in caplog.text


TXN_837_INBOUND = "5a7c9e1b-3d5f-4b7d-9f1a-2c4e6a8b0d37"


def inbound_837_item() -> dict[str, Any]:
    """A poll item for a succeeded INBOUND 837, in Stedi's TransactionSummary shape: the
    fixture's 837 with its direction and artifacts the other way round."""
    item = json.loads(json.dumps(fixture_items()[TXN_837]))
    base = f"https://core.us.stedi.com/2023-08-01/transactions/{TXN_837_INBOUND}"
    item.update(transactionId=TXN_837_INBOUND, direction="INBOUND")
    item["artifacts"] = [
        {**item["artifacts"][1], "usage": "input", "url": f"{base}/input"},
        {**item["artifacts"][0], "usage": "output", "url": f"{base}/output"},
    ]
    return item


async def test_an_inbound_837_is_reconciled_and_its_input_fetched(rig: Rig) -> None:
    rig.mock.poll_pages = [{"items": [inbound_837_item()]}]
    assert await rig.reconciler.run_once() == 1
    (event,) = await rig.events()
    assert (event.transaction_id, event.transaction_set, event.direction) == (
        TXN_837_INBOUND,
        "837",
        "INBOUND",
    )
    worker = Worker(
        store=rig.store, stedi=rig.stedi, policy=RetryPolicy(jitter=0.0), clock=rig.clock
    )

    assert await worker.run_once() == 1

    inputs = [r.path for r in rig.mock.requests if r.path.startswith("/transactions/")]
    assert inputs == [f"/transactions/{TXN_837_INBOUND}/input"]
    documents = await rig.store.fetch_documents(event.id)
    assert [(d.kind, d.transaction_id) for d in documents] == [("837", TXN_837_INBOUND)]
    timeline = await rig.store.claim_timeline("SYN0001842")
    assert [(t.kind, t.event_id) for t in timeline] == [("submitted", event.id)]


async def test_the_worker_fetches_the_report_for_a_reconciled_835(rig: Rig) -> None:
    await rig.reconciler.run_once()
    worker = Worker(
        store=rig.store, stedi=rig.stedi, policy=RetryPolicy(jitter=0.0), clock=rig.clock
    )

    assert await worker.run_once() == 3

    events = {e.transaction_id: e for e in await rig.events()}
    submitted = await rig.store.fetch_documents(events[TXN_837].id)
    assert [(d.kind, d.transaction_id) for d in submitted] == [("837", TXN_837)]
    era = events[TXN_835]
    timeline = await rig.store.claim_timeline("SYN0001842")
    assert ("remittance", era.id) in [(t.kind, t.event_id) for t in timeline]
    documents = await rig.store.fetch_documents(era.id)
    assert [(d.kind, d.transaction_id) for d in documents] == [("835", TXN_835)]
