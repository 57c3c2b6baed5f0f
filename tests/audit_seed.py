"""Put audit-worthy state in a store through its own verbs, for the audit API and CLI tests: an
event whose job told of a claim (PHI to read), and a dead job (to retry)."""

from __future__ import annotations

from datetime import UTC, datetime

from receiver.ids import new_id
from receiver.models import ClaimEntry, Document, InboundEvent, JobResult, Source
from receiver.store.base import PROCESS_JOB, Store

PCN = "SYN0009001"
BODY_MARK = "synthetic"  # in the seeded event's body; never in an audit row


def seeded_event(now: datetime) -> InboundEvent:
    return InboundEvent(
        id=new_id("evt"),
        source=Source.STEDI,
        type="transaction.processed.v2",
        account="acme",
        external_id=new_id("ext"),
        dedup_keys=(f"stedi:event:{new_id('k')}",),
        body=b'{"patient": "synthetic"}',
        headers={},
        received_at=now,
    )


async def claim_told(store: Store) -> str:
    """An event whose finished job stored an 835 and one claim entry for PCN: its id."""
    now = datetime.now(UTC)
    event = seeded_event(now)
    await store.record_inbound(event, PROCESS_JOB)
    (job,) = [
        j
        for j in await store.claim_due_jobs(now=now, lease_seconds=60, limit=50)
        if j.event_id == event.id
    ]
    assert job.lease_until is not None
    result = JobResult(
        documents=(Document("835", new_id("txn"), b"{}"),),
        claims=(ClaimEntry(PCN, "remittance", {"paid": "1.00"}, document_kind="835"),),
    )
    assert await store.complete_job(job.id, now=now, lease_until=job.lease_until, result=result)
    return event.id


async def dead_job(store: Store) -> str:
    """An event whose job gave up (a missing API key): the job's id."""
    now = datetime.now(UTC)
    event = seeded_event(now)
    await store.record_inbound(event, PROCESS_JOB)
    (job,) = [
        j
        for j in await store.claim_due_jobs(now=now, lease_seconds=60, limit=50)
        if j.event_id == event.id
    ]
    assert job.lease_until is not None
    assert await store.kill_job(job.id, now=now, lease_until=job.lease_until, error="no key")
    return job.id
