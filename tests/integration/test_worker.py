"""The worker against a real SQLite store and the mock Stedi over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from receiver.followup.worker import Worker
from receiver.intake.stedi import parse_stedi_webhook
from receiver.models import Account, Job, JobFilter
from receiver.policy import RetryPolicy
from receiver.store.base import PROCESS_JOB, Store
from receiver.store.sqlite import SqliteStore
from receiver.upstream.stedi import StediClient
from tests.conftest import FIXTURES, fixture_bytes
from tests.mocks.stedi import DOWNLOAD_QUERY, MockStediState, serve_mock_stedi

pytestmark = pytest.mark.anyio

API_KEY = "test-stedi-key-9f8e7d6c5b4a"
STEDI_ACCOUNT_ID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"
TRANSACTION_ID = "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
REPORT_835_PATH = f"/change/medicalnetwork/reports/v2/{TRANSACTION_ID}/835"
WEBHOOK_835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"
START = datetime(2025, 3, 21, 8, 12, tzinfo=UTC)
TXN_837 = "0f3a9c2e-6b1d-4e8a-9c47-2d5e8f1a7b30"
OUTPUT_837_PATH = f"/transactions/{TXN_837}/output"
DOWNLOAD_837_PATH = f"/download/{TXN_837}"
WEBHOOK_837 = "stedi/transaction-processed-v2.outbound-837p.webhook.json"
WEBHOOK_277 = "stedi/transaction-processed-v2.inbound-277ca.webhook.json"
X12_837 = "stedi/transaction-837p.x12"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Rig:
    """A store, a mock Stedi, a worker and its clock."""

    store: SqliteStore
    mock: MockStediState
    worker: Worker
    clock: FakeClock

    async def job_of(self, event_id: str) -> Job:
        page = await self.store.list_jobs(JobFilter(event_id=event_id), limit=10, cursor=None)
        assert len(page.items) == 1
        return page.items[0]


@pytest.fixture
def mock_stedi() -> Iterator[tuple[str, MockStediState]]:
    """The mock Stedi on a free loopback port, stopped at teardown."""
    with serve_mock_stedi(FIXTURES) as running:
        yield running


@pytest.fixture
async def rig(tmp_path: Path, mock_stedi: tuple[str, MockStediState]) -> AsyncIterator[Rig]:
    """An open SqliteStore with account `acme` (with an API key) and a worker on the mock."""
    base_url, state = mock_stedi
    store = SqliteStore(tmp_path / "receiver.db")
    await store.open()
    await store.add_account(
        Account(name="acme", stedi_account_id=STEDI_ACCOUNT_ID, created_at=START, api_key=API_KEY)
    )
    stedi = StediClient(
        healthcare_url=base_url,
        core_url=base_url,
        download_hosts="127.0.0.1",
        read_timeout=5.0,
        allow_private_downloads=True,  # the mock is on loopback
    )
    clock = FakeClock(START)
    worker = Worker(store=store, stedi=stedi, policy=RetryPolicy(jitter=0.0), clock=clock)
    try:
        yield Rig(store=store, mock=state, worker=worker, clock=clock)
    finally:
        await stedi.aclose()
        await store.close()


async def record_835(store: SqliteStore, payload: dict[str, Any] | None = None) -> str:
    """Store the 835 webhook fixture (or `payload`) as acme's event with a process job."""
    body = fixture_bytes(WEBHOOK_835) if payload is None else json.dumps(payload).encode()
    return await record_webhook(store, body, event_id="evt_835", received_at=START)


async def record_webhook(
    store: SqliteStore, body: bytes, *, event_id: str, received_at: datetime
) -> str:
    """Store a Stedi webhook body as acme's event (received at `received_at`) with a job."""
    account = await store.fetch_account("acme")
    assert account is not None
    event = parse_stedi_webhook(
        json.loads(body),
        account=account,
        event_id=event_id,
        body=body,
        headers={},
        received_at=received_at,
    )
    recorded = await store.record_inbound(event, PROCESS_JOB)
    assert recorded.created
    return recorded.event_id


async def test_run_once_fetches_the_835_and_stores_the_result(rig: Rig) -> None:
    event_id = await record_835(rig.store)

    assert await rig.worker.run_once() == 1

    job = await rig.job_of(event_id)
    assert (job.status, job.attempts, job.last_error) == ("done", 1, None)
    event = await rig.store.fetch_event(event_id, with_body=False)
    assert event is not None
    assert event.status == "processed"
    documents = await rig.store.fetch_documents(event_id)
    assert [(d.kind, d.transaction_id, d.body) for d in documents] == [
        ("835", TRANSACTION_ID, fixture_bytes("stedi/report-835-era.json"))
    ]
    timeline = await rig.store.claim_timeline("SYN0001842")
    assert [(t.kind, t.event_id, t.data["paid_amount"]) for t in timeline] == [
        ("remittance", event_id, "132.40")
    ]
    messages = await rig.store.list_messages(limit=10, cursor=None)
    assert sorted(m.type for m in messages.items) == [
        "claim.remittance.received",
        "stedi.transaction.processed",
    ]
    assert [r.path for r in rig.mock.requests] == [REPORT_835_PATH]
    assert rig.mock.requests[0].headers["authorization"] == API_KEY
    assert await rig.worker.run_once() == 0


async def test_429_then_200_retries_then_completes(rig: Rig) -> None:
    rig.mock.script = [(429, {"Retry-After": "30"})]
    event_id = await record_835(rig.store)

    assert await rig.worker.run_once() == 1
    job = await rig.job_of(event_id)
    assert (job.status, job.attempts) == ("pending", 1)
    assert job.last_error is not None
    assert "429" in job.last_error
    assert job.next_attempt_at == START + timedelta(seconds=30)
    assert await rig.worker.run_once() == 0  # not due yet

    rig.clock.now = START + timedelta(seconds=31)
    assert await rig.worker.run_once() == 1
    job = await rig.job_of(event_id)
    assert (job.status, job.attempts, job.last_error) == ("done", 2, None)
    assert len(await rig.store.claim_timeline("SYN0001842")) == 1
    assert [r.path for r in rig.mock.requests] == [REPORT_835_PATH, REPORT_835_PATH]


async def test_a_429_storm_ends_in_one_success(rig: Rig) -> None:
    """A 404 (report not ready), throttled answers with and without Retry-After and a 500,
    then the report: the job backs off each time, then completes once, with one document and
    one message of each type."""
    rig.mock.script = [
        (404, {}),
        (429, {}),
        (429, {"Retry-After": "2"}),
        (429, {}),
        (500, {}),
        (429, {}),
        (429, {"Retry-After": "1"}),
    ]
    event_id = await record_835(rig.store)
    seen_delays = []
    for _ in range(len(rig.mock.script) + 1):
        assert await rig.worker.run_once() == 1
        job = await rig.job_of(event_id)
        if job.status == "done":
            break
        assert job.status == "pending"
        seen_delays.append(job.next_attempt_at - rig.clock.now)
        rig.clock.now = job.next_attempt_at
    job = await rig.job_of(event_id)
    assert (job.status, job.attempts) == ("done", 8)
    assert len(seen_delays) == 7
    assert all(delay > timedelta(0) for delay in seen_delays)
    assert len(await rig.store.fetch_documents(event_id)) == 1
    assert len(await rig.store.claim_timeline("SYN0001842")) == 1
    messages = await rig.store.list_messages(limit=10, cursor=None)
    assert sorted(m.type for m in messages.items) == [
        "claim.remittance.received",
        "stedi.transaction.processed",
    ]


async def test_a_rejected_api_key_kills_the_job(rig: Rig) -> None:
    rig.mock.api_key = "some-other-key"
    event_id = await record_835(rig.store)

    assert await rig.worker.run_once() == 1

    job = await rig.job_of(event_id)
    assert job.status == "dead"
    assert job.last_error is not None
    assert "401" in job.last_error
    assert API_KEY not in job.last_error
    event = await rig.store.fetch_event(event_id, with_body=False)
    assert event is not None
    assert event.status == "failed"
    assert await rig.store.fetch_documents(event_id) == []


async def drop_api_key(store: SqliteStore) -> None:
    """Take acme's Stedi API key away."""
    account = await store.fetch_account("acme")
    assert account is not None
    await store.update_account(replace(account, api_key=None))


async def test_an_account_without_api_key_kills_the_job_with_a_hint(rig: Rig) -> None:
    await drop_api_key(rig.store)
    event_id = await record_835(rig.store)

    assert await rig.worker.run_once() == 1

    job = await rig.job_of(event_id)
    assert job.status == "dead"
    assert job.last_error is not None
    assert "has no Stedi API key" in job.last_error
    assert "receiver accounts rotate acme --api-key-env" in job.last_error
    assert rig.mock.requests == []


class UnseenEvents:
    """The store, except that `fetch_event` misses the first `misses` times: a read that does
    not see the event yet."""

    def __init__(self, store: SqliteStore, misses: int) -> None:
        self._store = store
        self.misses = misses

    async def fetch_event(self, event_id: str, *, with_body: bool = True) -> object:
        if self.misses > 0:
            self.misses -= 1
            return None
        return await self._store.fetch_event(event_id, with_body=with_body)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def worker_on(rig: Rig, store: object, policy: RetryPolicy | None = None) -> Worker:
    """A worker like the rig's, on `store`."""
    return Worker(
        store=cast(Store, store),
        stedi=rig.worker._stedi,
        policy=policy or RetryPolicy(jitter=0.0),
        clock=rig.clock,
    )


async def test_an_event_not_found_at_first_sight_is_retried_not_killed(rig: Rig) -> None:
    event_id = await record_835(rig.store)
    worker = worker_on(rig, UnseenEvents(rig.store, misses=1))

    assert await worker.run_once() == 1

    job = await rig.job_of(event_id)
    assert (job.status, job.attempts, job.last_error) == ("pending", 1, "event not found")
    assert job.next_attempt_at == START + timedelta(seconds=5)
    assert rig.mock.requests == []
    rig.clock.now = job.next_attempt_at
    assert await worker.run_once() == 1
    assert (await rig.job_of(event_id)).status == "done"


async def test_an_event_never_found_dies_when_the_retry_policy_gives_up(rig: Rig) -> None:
    event_id = await record_835(rig.store)
    policy = RetryPolicy(jitter=0.0, give_up_after_seconds=60)
    worker = worker_on(rig, UnseenEvents(rig.store, misses=100), policy)

    for _ in range(4):  # after 5, 10, 20 s; the next (40 s more) would be past the minute
        assert await worker.run_once() == 1
        job = await rig.job_of(event_id)
        if job.status != "pending":
            break
        rig.clock.now = job.next_attempt_at
    assert (job.status, job.attempts) == ("dead", 4)
    assert job.last_error == "event not found (gave up after 60s)"


async def test_urls_in_a_forged_event_are_never_followed(rig: Rig) -> None:
    payload = json.loads(fixture_bytes(WEBHOOK_835))
    event = payload["event"]
    event["resources"] = ["http://evil.invalid/steal"]
    for artifact in event["detail"]["artifacts"]:
        artifact["url"] = "http://evil.invalid/artifact"
    event_id = await record_835(rig.store, payload)

    assert await rig.worker.run_once() == 1

    job = await rig.job_of(event_id)
    assert job.status == "done"
    assert [r.path for r in rig.mock.requests] == [REPORT_835_PATH]
    assert all(r.headers["host"].startswith("127.0.0.1") for r in rig.mock.requests)


class _BrokenTransport(httpx.AsyncBaseTransport):
    """A transport that fails as no HTTP error would: a bug below the Stedi client."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("unexpected")


async def test_an_unexpected_error_retries_the_job_and_keeps_the_loop(rig: Rig) -> None:
    broken = StediClient(healthcare_url="http://127.0.0.1:9", transport=_BrokenTransport())
    worker = Worker(store=rig.store, stedi=broken, policy=RetryPolicy(jitter=0.0), clock=rig.clock)
    event_id = await record_835(rig.store)

    try:
        assert await worker.run_once() == 1
    finally:
        await broken.aclose()

    job = await rig.job_of(event_id)
    assert (job.status, job.attempts, job.last_error) == ("pending", 1, "RuntimeError")


# -- the submitted 837: its X12 through Stedi's redirect, and the claim timeline ---------------

AT_837 = datetime(2025, 3, 14, 15, 2, 11, tzinfo=UTC)
AT_277 = datetime(2025, 3, 14, 15, 29, 47, tzinfo=UTC)


async def record_837(store: SqliteStore) -> str:
    """Store the outbound 837P webhook fixture as acme's event with a process job."""
    return await record_webhook(
        store, fixture_bytes(WEBHOOK_837), event_id="evt_837", received_at=AT_837
    )


async def test_outbound_837_fetches_its_x12_through_the_redirect(rig: Rig) -> None:
    event_id = await record_837(rig.store)

    assert await rig.worker.run_once() == 1

    job = await rig.job_of(event_id)
    assert (job.status, job.attempts, job.last_error) == ("done", 1, None)
    assert [(r.path, r.query) for r in rig.mock.requests] == [
        (OUTPUT_837_PATH, ""),
        (DOWNLOAD_837_PATH, DOWNLOAD_QUERY),
    ]
    documents = await rig.store.fetch_documents(event_id)
    assert [(d.kind, d.transaction_id, d.content_type, d.body) for d in documents] == [
        ("837", TXN_837, "application/edi-x12", fixture_bytes(X12_837))
    ]
    timeline = await rig.store.claim_timeline("SYN0001843")
    assert [(t.kind, t.event_id, t.data) for t in timeline] == [
        (
            "submitted",
            event_id,
            {
                "patient_control_number": "SYN0001843",
                "charge_amount": "120.00",
                "transaction_control_number": "0001",
                "originator_transaction_id": "SYNBATCH0041",
            },
        )
    ]
    messages = await rig.store.list_messages(limit=10, cursor=None)
    assert [(m.type, m.data["transaction_set"]) for m in messages.items] == [
        ("stedi.transaction.processed", "837")
    ]
    assert "TESTPATIENT" not in json.dumps([t.data for t in timeline])
    assert await rig.worker.run_once() == 0


TXN_837_INBOUND = "5a7c9e1b-3d5f-4b7d-9f1a-2c4e6a8b0d37"
WEBHOOK_837_INBOUND = "stedi/transaction-processed-v2.inbound-837p.webhook.json"


async def test_inbound_837_fetches_its_x12_from_the_input_through_the_redirect(rig: Rig) -> None:
    """Stedi shows submitted 837s as INBOUND too: their X12 is the transaction's input."""
    event_id = await record_webhook(
        rig.store, fixture_bytes(WEBHOOK_837_INBOUND), event_id="evt_837i", received_at=AT_837
    )

    assert await rig.worker.run_once() == 1

    job = await rig.job_of(event_id)
    assert (job.status, job.attempts, job.last_error) == ("done", 1, None)
    assert [(r.path, r.query) for r in rig.mock.requests] == [
        (f"/transactions/{TXN_837_INBOUND}/input", ""),
        (f"/download/{TXN_837_INBOUND}", DOWNLOAD_QUERY),
    ]
    assert rig.mock.requests[0].headers["authorization"] == API_KEY
    assert "authorization" not in rig.mock.requests[1].headers
    documents = await rig.store.fetch_documents(event_id)
    assert [(d.kind, d.transaction_id, d.content_type, d.body) for d in documents] == [
        ("837", TXN_837_INBOUND, "application/edi-x12", fixture_bytes(X12_837))
    ]
    timeline = await rig.store.claim_timeline("SYN0001842")
    assert [(t.kind, t.event_id, t.data["charge_amount"]) for t in timeline] == [
        ("submitted", event_id, "245.00")
    ]


async def test_an_inbound_837_input_that_is_not_x12_kills_the_job(rig: Rig) -> None:
    rig.mock.output_redirect_base = ""  # 200 straight from "Stedi"
    rig.mock.script = [(200, {})]  # a JSON body, as Guide JSON would be
    event_id = await record_webhook(
        rig.store, fixture_bytes(WEBHOOK_837_INBOUND), event_id="evt_837i", received_at=AT_837
    )

    assert await rig.worker.run_once() == 1

    job = await rig.job_of(event_id)
    assert (job.status, job.last_error) == (
        "dead",
        "837 input: transaction input is not X12 (permanent status)",
    )


async def test_the_api_key_goes_to_stedi_but_not_to_the_download_url(rig: Rig) -> None:
    await record_837(rig.store)

    assert await rig.worker.run_once() == 1

    output, download = rig.mock.requests
    assert output.headers["authorization"] == API_KEY
    assert "authorization" not in download.headers
    assert API_KEY not in json.dumps(download.headers)


async def test_one_claim_shows_submitted_then_acknowledgment_then_remittance(rig: Rig) -> None:
    ids_by_kind = {
        "submitted": await record_837(rig.store),
        "acknowledgment": await record_webhook(
            rig.store, fixture_bytes(WEBHOOK_277), event_id="evt_277", received_at=AT_277
        ),
        "remittance": await record_835(rig.store),
    }

    assert await rig.worker.run_once() == 3

    for event_id in ids_by_kind.values():
        assert (await rig.job_of(event_id)).status == "done"
    timeline = await rig.store.claim_timeline("SYN0001842")
    assert [(t.kind, t.event_id) for t in timeline] == list(ids_by_kind.items())
    assert [t.data.get("charge_amount") for t in timeline] == ["245.00", None, "245.00"]
    assert timeline[1].data["status_category_codes"] == ["A2"]
    assert timeline[2].data["paid_amount"] == "132.40"


async def test_a_download_host_not_allowed_is_never_requested_and_kills_the_job(
    rig: Rig, mock_stedi: tuple[str, MockStediState]
) -> None:
    base_url, _ = mock_stedi
    # The same mock server, named by a host the allow-list (127.0.0.1) does not hold.
    rig.mock.output_redirect_base = base_url.replace("127.0.0.1", "localhost")
    event_id = await record_837(rig.store)

    assert await rig.worker.run_once() == 1

    job = await rig.job_of(event_id)
    assert job.status == "dead"
    assert job.last_error is not None
    assert job.last_error.startswith(
        "837 output: download host 'localhost' is not allowed by RECEIVER_STEDI_DOWNLOAD_HOSTS"
    )
    assert DOWNLOAD_QUERY not in job.last_error
    assert [r.path for r in rig.mock.requests] == [OUTPUT_837_PATH]
    assert await rig.store.fetch_documents(event_id) == []
    assert await rig.store.claim_timeline("SYN0001842") == []


async def test_a_direct_200_from_stedi_is_accepted(rig: Rig) -> None:
    rig.mock.output_redirect_base = ""
    event_id = await record_837(rig.store)

    assert await rig.worker.run_once() == 1

    assert (await rig.job_of(event_id)).status == "done"
    assert [r.path for r in rig.mock.requests] == [OUTPUT_837_PATH]
    assert [t.kind for t in await rig.store.claim_timeline("SYN0001842")] == ["submitted"]


async def test_a_throttled_output_is_retried_like_a_report(rig: Rig) -> None:
    rig.mock.script = [(429, {"Retry-After": "30"})]
    rig.clock.now = AT_837 + timedelta(minutes=1)  # the retry window runs from the event
    event_id = await record_837(rig.store)

    assert await rig.worker.run_once() == 1
    job = await rig.job_of(event_id)
    assert (job.status, job.attempts, job.last_error) == (
        "pending",
        1,
        "837 output: HTTP 429",
    )
    assert job.next_attempt_at == rig.clock.now + timedelta(seconds=30)

    rig.clock.now += timedelta(seconds=31)
    assert await rig.worker.run_once() == 1
    assert (await rig.job_of(event_id)).status == "done"
    assert [r.path for r in rig.mock.requests] == [
        OUTPUT_837_PATH,
        OUTPUT_837_PATH,
        DOWNLOAD_837_PATH,
    ]


async def test_an_837_for_an_account_without_api_key_dies_with_the_hint(rig: Rig) -> None:
    """Not done with nothing indexed: that could never be retried, and reconciliation sees
    the transaction as a duplicate. Dead with the hint, it is fetched once a key is there."""
    await drop_api_key(rig.store)
    event_id = await record_837(rig.store)

    assert await rig.worker.run_once() == 1

    job = await rig.job_of(event_id)
    assert job.status == "dead"
    assert job.last_error == (
        "account acme has no Stedi API key; add one with receiver accounts rotate acme "
        "--api-key-env VAR, then receiver jobs retry"
    )
    assert rig.mock.requests == []
    assert (await rig.store.list_messages(limit=10, cursor=None)).items == []

    account = await rig.store.fetch_account("acme")
    assert account is not None
    await rig.store.update_account(replace(account, api_key=API_KEY))
    assert await rig.store.revive_job(job.id, now=rig.clock.now)
    assert await rig.worker.run_once() == 1
    assert (await rig.job_of(event_id)).status == "done"
    assert [t.kind for t in await rig.store.claim_timeline("SYN0001843")] == ["submitted"]
