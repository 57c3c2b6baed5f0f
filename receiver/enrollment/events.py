"""ERA enrollment results as inbound events, and the message they publish (pure).

A submission's final result (Complete or Errored) is stored as an Optum event of type
`optum.era_enrollment.result`, deduplicated on Optum's payloadId, so a result read twice
(a restart between storing and saving the poll state) is stored once. The follow-up worker
finishes its job like any other and publishes `era_enrollment.completed` through the outbox,
signed, retried and replayable.
"""

from __future__ import annotations

from datetime import datetime

import orjson

from receiver.enrollment.results import COMPLETED_TYPE
from receiver.models import InboundEvent, Source, StoredEvent

ERA_RESULT_TYPE = "optum.era_enrollment.result"


def result_event(
    data: dict[str, object], *, tenant_id: str, payload_id: str, event_id: str, now: datetime
) -> InboundEvent:
    """The event holding a submission's `era_enrollment.completed` data (no contact data)."""
    return InboundEvent(
        id=event_id,
        source=Source.OPTUM,
        type=ERA_RESULT_TYPE,
        account=tenant_id,
        external_id=payload_id,
        dedup_keys=(f"optum:era-result:{payload_id}",),
        body=orjson.dumps(data),
        headers={},
        received_at=now,
        summary=data,
    )


def is_enrollment_event(event: StoredEvent) -> bool:
    """Whether an event is an ERA enrollment result."""
    return event.source == Source.OPTUM and event.type == ERA_RESULT_TYPE


def enrollment_subject(event: StoredEvent) -> tuple[str, ...] | None:
    """What an ERA enrollment result's message is about: Optum's payloadId."""
    return ("optum-era", event.external_id) if is_enrollment_event(event) else None


def enrollment_messages(event: StoredEvent) -> list[tuple[str, dict[str, object]]]:
    """The message an ERA enrollment result publishes: its stored data and the event id."""
    if not is_enrollment_event(event):
        return []
    return [(COMPLETED_TYPE, {"event_id": event.id, **event.summary})]
