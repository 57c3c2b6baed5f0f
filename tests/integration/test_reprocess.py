"""Reprocess against a real SQLite store, the mock Stedi and a signature-checking sink over
loopback HTTP: the document is fetched again and the messages are sent again, and the same
content publishes nothing new (the subscriber gets the same webhook-ids again, to dedupe);
a corrected report is stored beside the first and published under a new webhook-id, once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from receiver.clock import utc_now
from receiver.delivery.dispatcher import Dispatcher
from receiver.followup.worker import Worker
from receiver.intake.stedi import parse_stedi_webhook
from receiver.models import Account, Actor, DeliveryFilter, JobFilter
from receiver.ops.reprocess import reprocess_event
from receiver.policy import RetryPolicy
from receiver.store.base import PROCESS_JOB
from receiver.store.reprocess_sql import REPROCESS_JOB
from receiver.store.sqlite import SqliteStore
from receiver.upstream.stedi import StediClient
from tests.conftest import FIXTURES, fixture_bytes
from tests.integration.builders import Sink, _running_sink, drain, make_dispatcher, subscribe
from tests.mocks.stedi import MockStediState, serve_mock_stedi

pytestmark = pytest.mark.anyio

API_KEY = "test-stedi-key-9f8e7d6c5b4a"
STEDI_ACCOUNT_ID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"
TRANSACTION_ID = "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
REPORT_835_PATH = f"/change/medicalnetwork/reports/v2/{TRANSACTION_ID}/835"
WEBHOOK_835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"
REPORT_835 = "stedi/report-835-era.json"
START = datetime(2025, 3, 21, 8, 12, tzinfo=UTC)
ACTOR = Actor(who="cli:tester", request_id="req-test")


@dataclass
class Rig:
    store: SqliteStore
    mock: MockStediState
    worker: Worker
    dispatcher: Dispatcher
    sink: Sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    yield from _running_sink("sink")


@pytest.fixture
async def rig(tmp_path: Path, sink: Sink) -> AsyncIterator[Rig]:
    with serve_mock_stedi(FIXTURES) as (base_url, state):
        store = SqliteStore(tmp_path / "receiver.db")
        await store.open()
        await store.add_account(
            Account(
                name="acme", stedi_account_id=STEDI_ACCOUNT_ID, created_at=START, api_key=API_KEY
            )
        )
        await subscribe(store, sink, "*")
        stedi = StediClient(
            healthcare_url=base_url,
            core_url=base_url,
            download_hosts="127.0.0.1",
            read_timeout=5.0,
            allow_private_downloads=True,
        )
        worker = Worker(
            store=store,
            stedi=stedi,
            policy=RetryPolicy(jitter=0.0),
            clock=utc_now,
            republish=store.requeue_event_deliveries,
        )
        dispatcher, sender = make_dispatcher(store)
        try:
            yield Rig(store, state, worker, dispatcher, sink)
        finally:
            await sender.aclose()
            await stedi.aclose()
            await store.close()


async def record_835(store: SqliteStore) -> str:
    account = await store.fetch_account("acme")
    assert account is not None
    body = fixture_bytes(WEBHOOK_835)
    event = parse_stedi_webhook(
        json.loads(body),
        account=account,
        event_id="evt_835",
        body=body,
        headers={},
        received_at=utc_now(),
    )
    return (await store.record_inbound(event, PROCESS_JOB)).event_id


async def reprocess_and_run(rig: Rig, event_id: str) -> None:
    answer = await reprocess_event(rig.store, event_id, now=utc_now(), actor=ACTOR)
    assert answer == {"event_id": event_id, "queued": True}
    assert await rig.worker.run_once() == 1
    await drain(rig.dispatcher, rig.store)


async def test_same_content_twice_is_sent_again_with_the_same_webhook_ids(rig: Rig) -> None:
    event_id = await record_835(rig.store)
    assert await rig.worker.run_once() == 1
    await drain(rig.dispatcher, rig.store)
    first = rig.sink.state.ids()
    assert len(first) == 2  # stedi.transaction.processed and claim.remittance.received
    messages = (await rig.store.list_messages(limit=10, cursor=None)).items

    await reprocess_and_run(rig, event_id)
    await reprocess_and_run(rig, event_id)

    assert [r.path for r in rig.mock.requests] == [REPORT_835_PATH] * 3  # fetched each time
    assert (await rig.store.list_messages(limit=10, cursor=None)).items == messages
    again = rig.sink.state.ids()
    assert sorted(again) == sorted(first * 3)  # sent again each time, never with a new id
    deliveries = await rig.store.list_deliveries(DeliveryFilter(), limit=50, cursor=None)
    assert sorted(d.message_id for d in deliveries.items) == sorted(m.id for m in messages)
    jobs = await rig.store.list_jobs(JobFilter(event_id=event_id), limit=10, cursor=None)
    assert sorted((j.kind, j.status, j.attempts) for j in jobs.items) == [
        (PROCESS_JOB, "done", 1),
        (REPROCESS_JOB, "done", 1),
    ]
    timeline = await rig.store.claim_timeline("SYN0001842")
    assert len(timeline) == 1  # the claim entries are not doubled either


def paid_by_webhook_id(sink: Sink) -> dict[str, list[str]]:
    """The paid amounts of each `claim.remittance.received` the sink got, by webhook-id."""
    bodies: list[Any] = [json.loads(r.body) for r in sink.state.received]
    return {
        body["id"]: [claim["paid_amount"] for claim in body["data"]["claims"]]
        for body in bodies
        if body["type"] == "claim.remittance.received"
    }


async def test_a_corrected_report_is_published_as_a_second_message_once(rig: Rig) -> None:
    event_id = await record_835(rig.store)
    assert await rig.worker.run_once() == 1
    await drain(rig.dispatcher, rig.store)
    (first_id,) = paid_by_webhook_id(rig.sink)
    original = fixture_bytes(REPORT_835)
    corrected = original.replace(
        b'"claimPaymentAmount": "132.40"', b'"claimPaymentAmount": "120.00"'
    )
    assert corrected != original
    rig.mock.reports["835"] = corrected

    with capture_logs() as logs:
        await reprocess_and_run(rig, event_id)

    changed = [e for e in logs if e["event"] == "job.document_changed"]
    assert [(e["event_id"], e["revision"]) for e in changed] == [(event_id, 1)]
    remittances = paid_by_webhook_id(rig.sink)  # two distinct webhook-ids
    (corrected_id,) = set(remittances) - {first_id}
    assert remittances == {first_id: ["132.40"], corrected_id: ["120.00"]}
    documents = await rig.store.fetch_documents(event_id)
    assert [(d.revision, d.body) for d in documents] == [(0, original), (1, corrected)]
    timeline = await rig.store.claim_timeline("SYN0001842")
    assert [(e.revision, e.data["paid_amount"]) for e in timeline] == [(0, "132.40"), (1, "120.00")]
    messages = (await rig.store.list_messages(limit=10, cursor=None)).items
    sent = set(rig.sink.state.ids())

    await reprocess_and_run(rig, event_id)  # the same corrected content again

    assert [r.path for r in rig.mock.requests] == [REPORT_835_PATH] * 3
    assert set(rig.sink.state.ids()) == sent  # sent again, never with a new id
    assert (await rig.store.list_messages(limit=10, cursor=None)).items == messages
    assert len(await rig.store.fetch_documents(event_id)) == 2
    assert len(await rig.store.claim_timeline("SYN0001842")) == 2
