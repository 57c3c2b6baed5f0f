"""Stored events built from the fixtures through the real parsers, for the pure follow-up tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from receiver.intake.optum import parse_coverage_discovery
from receiver.intake.stedi import parse_stedi_webhook
from receiver.intake.stedi_destinations import parse_destination_event
from receiver.models import Account, InboundEvent, StoredEvent
from tests.conftest import fixture_bytes

NOW = datetime(2025, 3, 21, 8, 12, tzinfo=UTC)


STEDI_ACCOUNT_ID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"


ACCOUNT = Account(name="acme", stedi_account_id=STEDI_ACCOUNT_ID, created_at=NOW)


WEBHOOK_837 = "stedi/transaction-processed-v2.outbound-837p.webhook.json"


WEBHOOK_837_INBOUND = "stedi/transaction-processed-v2.inbound-837p.webhook.json"


WEBHOOK_277 = "stedi/transaction-processed-v2.inbound-277ca.webhook.json"


WEBHOOK_835 = "stedi/transaction-processed-v2.inbound-835.webhook.json"


WEBHOOK_FILE_FAILED = "stedi/file-failed-v2.webhook.json"


DESTINATION_BODY = "stedi/event-destination.transaction-processed.v1-thin.body.json"


OPTUM_BODY = "optum/coverage-discovery.callback.success.json"


REPORT_277 = fixture_bytes("stedi/report-277ca.accepted.json")


REPORT_835 = fixture_bytes("stedi/report-835-era.json")


X12_837 = fixture_bytes("stedi/transaction-837p.x12")


def stored(event: InboundEvent) -> StoredEvent:
    """An InboundEvent as the store would give it back, with its body."""
    return StoredEvent(
        id=event.id,
        source=event.source.value,
        type=event.type,
        account=event.account,
        external_id=event.external_id,
        status="received",
        received_at=event.received_at,
        transaction_id=event.transaction_id,
        transaction_set=event.transaction_set,
        direction=event.direction,
        summary=event.summary,
        headers=event.headers,
        body=event.body,
    )


def stedi(name: str, *, body: bytes | None = None) -> StoredEvent:
    raw = fixture_bytes(name) if body is None else body
    return stored(
        parse_stedi_webhook(
            json.loads(raw),
            account=ACCOUNT,
            event_id="evt_test",
            body=raw,
            headers={},
            received_at=NOW,
        )
    )


def destination(body: bytes | None = None) -> StoredEvent:
    raw = fixture_bytes(DESTINATION_BODY) if body is None else body
    return stored(
        parse_destination_event(
            json.loads(raw),
            account=ACCOUNT,
            webhook_id="msg_test",
            event_id="evt_dest",
            body=raw,
            headers={},
            received_at=NOW,
        )
    )


def optum() -> StoredEvent:
    raw = fixture_bytes(OPTUM_BODY)
    return stored(
        parse_coverage_discovery(
            json.loads(raw),
            event_id="evt_optum",
            body=raw,
            headers={"x-optum-tenant-id": "tenant-1"},
            received_at=NOW,
        )
    )
