"""The job-result contract: documents, claim entries and outbox messages stored in the
transaction that completes a job, under the same lease guard, run against every adapter."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from receiver.errors import BadRequestError
from receiver.ids import new_id
from receiver.models import ClaimEntry, DeliveryFilter, Document, Job, JobResult, OutboundMessage
from receiver.store.base import PROCESS_JOB, Store
from tests.contract.support import (
    LEASE,
    NOW,
    T0,
    claim,
    claimed_job,
    complete,
    event_status,
    job_of,
    make_event,
)

pytestmark = pytest.mark.anyio

PCN = "SYN0001842"
# Exact bytes with odd spacing, an escape and a non-ASCII byte: must come back identical.
ERA_BODY = b'{"transactions":  [{"x": "\\u00e9"}],\n "raw": "\xc3\xa9"  }\r\n'
ACK_BODY = b'{"claimStatus" : "A1:20",  "pcn": "SYN0001842"}'


def message(type_: str, n: int = 0, **data: object) -> OutboundMessage:
    return OutboundMessage(
        id=new_id("msg"),
        type=type_,
        account="acme",
        data={"n": n, **data},
        created_at=T0 + timedelta(seconds=n),
    )


def era_result() -> JobResult:
    return JobResult(
        documents=(
            Document(kind="835", transaction_id="txn-era", body=ERA_BODY),
            Document(
                kind="277", transaction_id="txn-ack", body=ACK_BODY, content_type="text/plain"
            ),
        ),
        claims=(
            ClaimEntry(PCN, "remittance", {"paid": "120.50", "status": "1"}),
            ClaimEntry("SYN0009999", "remittance", {"paid": "0.00", "status": "4"}),
        ),
        messages=(message("remittance.received", 1, pcn=PCN),),
    )


class TestCompleteWithResult:
    async def test_stores_documents_claims_and_messages(self, store: Store) -> None:
        job = await claimed_job(store)
        result = era_result()
        assert await complete(store, job, result)
        assert (await job_of(store, job.event_id)).status == "done"
        assert await event_status(store, job.event_id) == "processed"

        docs = await store.fetch_documents(job.event_id)
        assert docs == sorted(result.documents, key=lambda d: d.kind)  # by kind
        assert docs[1].body == ERA_BODY  # byte-identical
        assert docs[0].content_type == "text/plain"
        assert docs[1].content_type == "application/json"

        (entry,) = await store.claim_timeline(PCN)
        assert (entry.patient_control_number, entry.kind, entry.data) == (
            PCN,
            "remittance",
            {"paid": "120.50", "status": "1"},
        )
        assert entry.event_id == job.event_id
        assert entry.transaction_id == "txn-1"
        assert entry.received_at == T0 + timedelta(seconds=1)
        assert len(await store.claim_timeline("SYN0009999")) == 1
        assert await store.claim_timeline("SYN-NONE") == []

        page = await store.list_messages(limit=10, cursor=None)
        assert page.items == list(result.messages)
        assert page.next_cursor is None

    async def test_without_result_stores_nothing_extra(self, store: Store) -> None:
        job = await claimed_job(store)
        assert job.lease_until is not None
        assert await store.complete_job(
            job.id, now=NOW, lease_until=job.lease_until
        )  # result omitted
        assert await store.fetch_documents(job.event_id) == []
        assert (await store.list_messages(limit=10, cursor=None)).items == []

    async def test_empty_result_is_fine(self, store: Store) -> None:
        job = await claimed_job(store)
        assert await complete(store, job, JobResult())
        assert await store.fetch_documents(job.event_id) == []

    async def test_stale_lease_stores_nothing_of_the_result(self, store: Store) -> None:
        stale = await claimed_job(store)
        (current,) = await claim(store, NOW + timedelta(seconds=LEASE + 1))
        assert current.id == stale.id
        assert not await complete(store, stale, era_result())
        assert await store.fetch_documents(stale.event_id) == []
        assert await store.claim_timeline(PCN) == []
        assert (await store.list_messages(limit=10, cursor=None)).items == []
        assert await event_status(store, stale.event_id) == "received"
        # The current holder still completes, and its result is stored.
        assert await complete(store, current, era_result())
        assert len(await store.fetch_documents(stale.event_id)) == 2

    async def test_unknown_job_stores_nothing(self, store: Store) -> None:
        assert not await store.complete_job(
            "job_nope", now=NOW, lease_until=NOW, result=era_result()
        )
        assert (await store.list_messages(limit=10, cursor=None)).items == []

    async def test_duplicates_within_a_result_keep_the_first(self, store: Store) -> None:
        """Unique keys: one document per (account, transaction, kind, revision), one message
        per id; a repeat (as from a rerun) is ignored rather than failing the completion, while
        a message of the same type with another id (a corrected report's) is kept beside it."""
        job = await claimed_job(store)
        first = message("ack.received", 1, which="first")
        other = message("ack.received", 2, which="second")
        result = JobResult(
            documents=(
                Document(kind="277", transaction_id="a", body=b"first"),
                Document(kind="277", transaction_id="a", body=b"second"),
            ),
            claims=(
                ClaimEntry(PCN, "acknowledgment", {"i": 0}),
                ClaimEntry(PCN, "acknowledgment", {"i": 1}),
            ),
            messages=(first, other, first),
        )
        assert await complete(store, job, result)
        (doc,) = await store.fetch_documents(job.event_id)
        assert (doc.transaction_id, doc.body) == ("a", b"first")
        # Claim entries are keyed by ordinal, so two lines for one PCN both stay.
        assert [e.data for e in await store.claim_timeline(PCN)] == [{"i": 0}, {"i": 1}]
        listed = (await store.list_messages(limit=10, cursor=None)).items
        assert sorted(m.id for m in listed) == sorted([first.id, other.id])


SHARED_TXN = "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"


async def claimed_jobs(store: Store, *accounts: str) -> list[Job]:
    """One claimed job per account, each for an event of its own about SHARED_TXN (as a
    webhook and an event destination for one transaction are)."""
    events = [
        make_event(n, account=account, transaction_id=SHARED_TXN)
        for n, account in enumerate(accounts, start=1)
    ]
    for event in events:
        await store.record_inbound(event, PROCESS_JOB)
    by_event = {job.event_id: job for job in await claim(store)}
    return [by_event[event.id] for event in events]


def transaction_result(body: bytes, message_ids: tuple[str, ...]) -> JobResult:
    """What a follow-up of SHARED_TXN's 835 stores: its report, the claim read from it, and
    messages whose ids follow from the transaction (the same for every event of it)."""
    return JobResult(
        documents=(Document(kind="835", transaction_id=SHARED_TXN, body=body),),
        claims=(ClaimEntry(PCN, "remittance", {"body": body.decode()}, document_kind="835"),),
        messages=tuple(
            OutboundMessage(
                id=mid,
                type="claim.remittance.received",
                account="acme",
                data={"body": body.decode()},
                created_at=T0,
            )
            for mid in message_ids
        ),
    )


class TestOneTransactionTwoEvents:
    """A transaction told by two events (a webhook and an event destination, or a poll) is
    stored once: its documents and their claim entries by the first event to complete."""

    async def test_the_second_event_stores_no_second_document_claim_or_message(
        self, store: Store
    ) -> None:
        first, second = await claimed_jobs(store, "acme", "acme")
        assert await complete(store, first, transaction_result(b"first", ("msg_same",)))
        assert await complete(store, second, transaction_result(b"second", ("msg_same",)))

        assert [d.body for d in await store.fetch_documents(first.event_id)] == [b"first"]
        assert await store.fetch_documents(second.event_id) == []
        stored = await store.fetch_transaction_document("acme", SHARED_TXN, "835")
        assert stored is not None
        assert (stored.kind, stored.transaction_id, stored.body) == ("835", SHARED_TXN, b"first")
        timeline = await store.claim_timeline(PCN)
        assert [(e.event_id, e.data) for e in timeline] == [(first.event_id, {"body": "first"})]
        messages = (await store.list_messages(limit=10, cursor=None)).items
        assert [(m.id, m.data) for m in messages] == [("msg_same", {"body": "first"})]
        # Both jobs are done: the second had nothing left to add.
        assert (await job_of(store, second.event_id)).status == "done"

    async def test_nothing_is_found_before_a_document_is_stored(self, store: Store) -> None:
        assert await store.fetch_transaction_document("acme", SHARED_TXN, "835") is None
        (job,) = await claimed_jobs(store, "acme")
        assert await complete(store, job, transaction_result(b"first", ("msg_a",)))
        assert await store.fetch_transaction_document("acme", SHARED_TXN, "277") is None
        assert await store.fetch_transaction_document("other", SHARED_TXN, "835") is None
        assert await store.fetch_transaction_document("acme", "txn-other", "835") is None

    async def test_another_accounts_transaction_of_the_same_id_is_its_own(
        self, store: Store
    ) -> None:
        acme, other = await claimed_jobs(store, "acme", "other")
        assert await complete(store, acme, transaction_result(b"acme", ("msg_acme",)))
        assert await complete(store, other, transaction_result(b"other", ("msg_other",)))
        found = await store.fetch_transaction_document("other", SHARED_TXN, "835")
        assert found is not None
        assert found.body == b"other"
        assert len(await store.claim_timeline(PCN)) == 2

    async def test_claims_not_read_from_a_document_are_kept_for_each_event(
        self, store: Store
    ) -> None:
        first, second = await claimed_jobs(store, "acme", "acme")
        for job in (first, second):
            standalone = JobResult(claims=(ClaimEntry(PCN, "remittance", {"e": job.event_id}),))
            assert await complete(store, job, standalone)
        assert len(await store.claim_timeline(PCN)) == 2

    async def test_completing_both_at_once_stores_one_set_and_owes_one_delivery(
        self, store: Store
    ) -> None:
        from tests.contract.fanout_support import subscription

        sub = subscription()
        await store.add_subscription(sub)
        jobs = await claimed_jobs(store, "acme", "acme")
        async with anyio.create_task_group() as group:
            for job, body in zip(jobs, (b"one", b"two"), strict=True):
                group.start_soon(complete, store, job, transaction_result(body, ("msg_same",)))

        assert [(await job_of(store, j.event_id)).status for j in jobs] == ["done", "done"]
        assert len(await store.claim_timeline(PCN)) == 1
        documents = [await store.fetch_documents(j.event_id) for j in jobs]
        assert sorted(len(found) for found in documents) == [0, 1]
        deliveries = await store.list_deliveries(
            DeliveryFilter(subscription_id=sub.id), limit=10, cursor=None
        )
        assert [d.message_id for d in deliveries.items] == ["msg_same"]


class TestTimeline:
    async def test_ack_then_remittance_across_two_events(self, store: Store) -> None:
        # The 835 event is recorded first but received later: order is by received_at.
        era_job = await claimed_job(store, 20)
        ack_job = await claimed_job(store, 10)
        assert await complete(
            store,
            era_job,
            JobResult(claims=(ClaimEntry(PCN, "remittance", {"paid": "120.50"}),)),
        )
        assert await complete(
            store,
            ack_job,
            JobResult(
                claims=(
                    ClaimEntry("OTHER", "acknowledgment", {"status": "A2"}),
                    ClaimEntry(PCN, "acknowledgment", {"status": "A1:20"}),
                )
            ),
        )
        timeline = await store.claim_timeline(PCN)
        assert [(e.kind, e.event_id, e.transaction_id, e.received_at) for e in timeline] == [
            ("acknowledgment", ack_job.event_id, "txn-10", T0 + timedelta(seconds=10)),
            ("remittance", era_job.event_id, "txn-20", T0 + timedelta(seconds=20)),
        ]
        assert [e.data for e in timeline] == [{"status": "A1:20"}, {"paid": "120.50"}]


class TestListMessages:
    async def test_newest_first_in_pages(self, store: Store) -> None:
        sent: list[OutboundMessage] = []
        for n in range(1, 6):
            job = await claimed_job(store, n)
            msgs = (message("a", n), message("b", n))
            sent.extend(msgs)
            assert await complete(store, job, JobResult(messages=msgs))
        seen: list[OutboundMessage] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await store.list_messages(limit=3, cursor=cursor)
            pages += 1
            assert len(page.items) <= 3
            seen.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert pages == 4
        assert seen == list(reversed(sent))

    async def test_exact_page_has_no_next_cursor(self, store: Store) -> None:
        job = await claimed_job(store)
        msgs = (message("a"), message("b"))
        assert await complete(store, job, JobResult(messages=msgs))
        page = await store.list_messages(limit=2, cursor=None)
        assert page.items == list(reversed(msgs))
        assert page.next_cursor is None

    async def test_bad_limit_and_cursor(self, store: Store) -> None:
        with pytest.raises(BadRequestError):
            await store.list_messages(limit=0, cursor=None)
        with pytest.raises(BadRequestError):
            await store.list_messages(limit=501, cursor=None)
        with pytest.raises(BadRequestError):
            await store.list_messages(limit=10, cursor="not-a-cursor!")
