"""Eligibility results as inbound events, and the messages they publish (pure).

A check's result (a real-time answer or one batch poll item) is stored as an event of type
`stedi.eligibility.check`, deduplicated on its `ec_` id, and a completed batch as an event of
type `stedi.eligibility.batch`, deduplicated on its batch id. The follow-up worker finishes
their jobs like any other, publishing `eligibility.check.completed` and
`eligibility.batch.completed` through the outbox, so they are signed, retried and replayable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

import orjson

from receiver.eligibility.summary import BatchSummary, summarize_check
from receiver.models import InboundEvent, Source, StoredEvent

CHECK_EVENT = "stedi.eligibility.check"
BATCH_EVENT = "stedi.eligibility.batch"
MSG_CHECK = "eligibility.check.completed"
MSG_BATCH = "eligibility.batch.completed"
_CHECK_ID = re.compile(r"ec_[A-Za-z0-9-]{1,64}")
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


def check_id_of(response: Mapping[str, object]) -> str | None:
    """The response's `ec_` id when it has a well-formed one."""
    value = response.get("id")
    return value if isinstance(value, str) and _CHECK_ID.fullmatch(value) else None


def is_batch_id(value: object) -> bool:
    """True for a batch id receiver will put in a URL and a dedup key."""
    return isinstance(value, str) and _BATCH_ID.fullmatch(value) is not None


def check_event(
    response: Mapping[str, object],
    *,
    account: str,
    event_id: str,
    received_at: datetime,
    submission_id: str | None = None,
) -> InboundEvent:
    """The event storing one eligibility response; a response without an `ec_` id is keyed
    on the event itself (it is then stored each time it is told)."""
    check_id = check_id_of(response)
    key = check_id or f"evt:{event_id}"
    summary = summarize_check(response).to_data()
    if submission_id is not None:
        summary["submission_id"] = submission_id
    return InboundEvent(
        id=event_id,
        source=Source.STEDI,
        type=CHECK_EVENT,
        account=account,
        external_id=key,
        dedup_keys=(f"eligibility-check:{account}:{key}",),
        body=orjson.dumps(dict(response)),
        headers={},
        received_at=received_at,
        summary=summary,
    )


def batch_event(
    summary: BatchSummary,
    *,
    account: str,
    event_id: str,
    received_at: datetime,
    submission_id: str | None,
) -> InboundEvent:
    """The event telling that a batch is complete, with its counts (no patient data)."""
    data = {**summary.to_data(), "submission_id": submission_id}
    return InboundEvent(
        id=event_id,
        source=Source.STEDI,
        type=BATCH_EVENT,
        account=account,
        external_id=str(summary.batch_id),
        dedup_keys=(f"eligibility-batch:{account}:{summary.batch_id}",),
        body=orjson.dumps(data),
        headers={},
        received_at=received_at,
        summary=data,
    )


def eligibility_subject(event: StoredEvent) -> tuple[str, ...] | None:
    """What an eligibility event's message is about: its check or its batch."""
    if event.source != Source.STEDI:
        return None
    if event.type == CHECK_EVENT:
        return ("stedi-eligibility-check", event.external_id)
    if event.type == BATCH_EVENT:
        return ("stedi-eligibility-batch", event.external_id)
    return None


def eligibility_messages(event: StoredEvent) -> list[tuple[str, dict[str, object]]]:
    """The messages an eligibility event publishes: its summary, never the response."""
    if event.source != Source.STEDI or event.type not in (CHECK_EVENT, BATCH_EVENT):
        return []
    data: dict[str, object] = {"event_id": event.id, **event.summary}
    return [(MSG_CHECK if event.type == CHECK_EVENT else MSG_BATCH, data)]
