"""The corrected-document contract, run against every adapter: a job result whose document is
the next revision of its transaction's (a reprocess fetched a corrected report) is stored
beside the first with the claim entries read from it and its message of the same type (a new
id) with its deliveries; "the document" reads as the newest; the same revision again (a
reprocess fetching the same corrected content) stores nothing and owes nothing more."""

from __future__ import annotations

from datetime import timedelta

import pytest

from receiver.models import ClaimEntry, DeliveryFilter, Document, JobResult, OutboundMessage
from receiver.store.base import Store
from receiver.store.reprocess_sql import REPROCESS_JOB
from tests.contract.fanout_support import subscription
from tests.contract.support import NOW, T0, claimed_job, complete

pytestmark = pytest.mark.anyio

PCN = "SYN0001842"
TXN = "txn-1"  # claimed_job(store, 1)'s event
FIRST = b'{"paid": "132.40"}'
CORRECTED = b'{"paid": "120.00"}'


def remittance(body: bytes, revision: int, message_id: str) -> JobResult:
    """What the worker builds from one version of an 835: the document, its claim, its
    message (the message id is the worker's to choose: deterministic from the content)."""
    return JobResult(
        documents=(Document(kind="835", transaction_id=TXN, body=body, revision=revision),),
        claims=(ClaimEntry(PCN, "remittance", {"body": body.decode()}, document_kind="835"),),
        messages=(
            OutboundMessage(
                id=message_id,
                type="claim.remittance.received",
                account="acme",
                data={"body": body.decode()},
                created_at=T0,
            ),
        ),
    )


async def reprocess(store: Store, event_id: str, result: JobResult) -> None:
    """Queue, claim and complete the event's reprocess job with `result`."""
    at = NOW + timedelta(minutes=1)
    assert await store.queue_reprocess(event_id, now=at)
    (job,) = await store.claim_due_jobs(now=at, lease_seconds=30, limit=5, kinds=(REPROCESS_JOB,))
    assert await complete(store, job, result)


async def test_a_corrected_document_is_stored_beside_the_first_and_published(
    store: Store,
) -> None:
    sub = subscription(("claim.*",))
    await store.add_subscription(sub)
    job = await claimed_job(store, 1)
    assert await complete(store, job, remittance(FIRST, 0, "msg_first"))

    await reprocess(store, job.event_id, remittance(CORRECTED, 1, "msg_corrected"))

    documents = await store.fetch_documents(job.event_id)
    assert [(d.revision, d.body) for d in documents] == [(0, FIRST), (1, CORRECTED)]
    newest = await store.fetch_transaction_document("acme", TXN, "835")
    assert newest is not None
    assert (newest.revision, newest.body) == (1, CORRECTED)
    timeline = await store.claim_timeline(PCN)
    assert [(e.revision, e.data) for e in timeline] == [
        (0, {"body": FIRST.decode()}),
        (1, {"body": CORRECTED.decode()}),
    ]
    messages = (await store.list_messages(limit=10, cursor=None)).items
    assert [m.id for m in messages] == ["msg_corrected", "msg_first"]  # newest first
    deliveries = await store.list_deliveries(DeliveryFilter(), limit=10, cursor=None)
    assert sorted((d.message_id, d.subscription_id) for d in deliveries.items) == [
        ("msg_corrected", sub.id),
        ("msg_first", sub.id),
    ]

    # The same corrected content fetched again: the same revision and message id.
    await reprocess(store, job.event_id, remittance(CORRECTED, 1, "msg_corrected"))

    assert len(await store.fetch_documents(job.event_id)) == 2
    assert len(await store.claim_timeline(PCN)) == 2  # no second outcome from one report
    assert len((await store.list_messages(limit=10, cursor=None)).items) == 2
    again = await store.list_deliveries(DeliveryFilter(), limit=10, cursor=None)
    assert len(again.items) == 2
