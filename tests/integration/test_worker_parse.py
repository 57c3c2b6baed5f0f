"""Documents in the shapes they really come in, through the worker: a real SQLite store and the
mock Stedi over loopback. A part that cannot be read is published with its parse error, logged
(ids only) and counted; never dropped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from receiver.followup.worker import Worker
from receiver.intake.optum import parse_coverage_discovery
from receiver.intake.stedi import parse_stedi_webhook
from receiver.metrics import Metrics
from receiver.models import Account, JobFilter, OutboundMessage
from receiver.policy import RetryPolicy
from receiver.store.base import PROCESS_JOB
from receiver.store.sqlite import SqliteStore
from receiver.upstream.stedi import StediClient
from tests.conftest import FIXTURES, fixture_bytes
from tests.mocks.stedi import MockStediState, serve_mock_stedi

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 3, 21, 8, 12, tzinfo=UTC)
API_KEY = "test-stedi-key-9f8e7d6c5b4a"
OPTUM_BODY = "optum/coverage-discovery.callback.success.json"
WEBHOOK_837 = "stedi/transaction-processed-v2.outbound-837p.webhook.json"
X12_837 = fixture_bytes("stedi/transaction-837p.x12")
MEMBER_ID = "ZZC998877001"


@dataclass
class Rig:
    store: SqliteStore
    worker: Worker
    metrics: Metrics
    mock: MockStediState

    def parse_errors(self, document: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "receiver_parse_errors_total", {"document": document}
        )
        return value or 0.0

    async def messages(self, type_: str) -> list[OutboundMessage]:
        page = await self.store.list_messages(limit=50, cursor=None)
        return [m for m in page.items if m.type == type_]


@pytest.fixture
def mock_stedi() -> Iterator[tuple[str, MockStediState]]:
    with serve_mock_stedi(FIXTURES) as running:
        yield running


@pytest.fixture
async def rig(tmp_path: Path, mock_stedi: tuple[str, MockStediState]) -> AsyncIterator[Rig]:
    base_url, state = mock_stedi
    store = SqliteStore(tmp_path / "receiver.db")
    await store.open()
    await store.add_account(
        Account(
            name="acme",
            stedi_account_id="7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6",
            created_at=NOW,
            api_key=API_KEY,
        )
    )
    stedi = StediClient(
        healthcare_url=base_url,
        core_url=base_url,
        download_hosts="127.0.0.1",
        read_timeout=5.0,
        allow_private_downloads=True,
    )
    metrics = Metrics()
    worker = Worker(
        store=store,
        stedi=stedi,
        policy=RetryPolicy(jitter=0.0),
        clock=lambda: NOW,
        metrics=metrics,
    )
    try:
        yield Rig(store=store, worker=worker, metrics=metrics, mock=state)
    finally:
        await stedi.aclose()
        await store.close()


def optum_payload(x12_271: str) -> dict[str, Any]:
    payload = json.loads(fixture_bytes(OPTUM_BODY))
    payload["discoveryPaths"]["successful"][0]["transaction"]["x12-271"] = x12_271
    return payload


def fixture_271() -> str:
    payload = json.loads(fixture_bytes(OPTUM_BODY))
    x12 = payload["discoveryPaths"]["successful"][0]["transaction"]["x12-271"]
    assert isinstance(x12, str)
    return x12


async def record_optum(store: SqliteStore, payload: dict[str, Any]) -> str:
    body = json.dumps(payload).encode()
    event = parse_coverage_discovery(
        payload,
        event_id="evt_optum",
        body=body,
        headers={"x-optum-tenant-id": "tenant-1"},
        received_at=NOW,
    )
    recorded = await store.record_inbound(event, PROCESS_JOB)
    assert recorded.created
    return recorded.event_id


async def job_status(store: SqliteStore, event_id: str) -> str:
    page = await store.list_jobs(JobFilter(event_id=event_id), limit=10, cursor=None)
    (job,) = page.items
    return job.status


async def test_a_271_that_cannot_be_read_is_published_with_its_parse_error(rig: Rig) -> None:
    whole = fixture_271()
    event_id = await record_optum(rig.store, optum_payload(whole[: whole.index("NM1*IL") + 20]))

    with capture_logs() as logs:
        assert await rig.worker.run_once() == 1

    assert await job_status(rig.store, event_id) == "done"
    (message,) = await rig.messages("coverage_discovery.completed")
    (coverage,) = message.data["coverages"]  # type: ignore[misc]
    assert coverage == {
        "path": "Commercial",
        "chc_payer_id": "SYNCOMM1",
        "payer_name": None,
        "payer_id": None,
        "member_id": None,
        "plan_description": None,
        "parse_error": "x12-271: interchange is truncated: it does not end with an IEA segment",
    }
    assert rig.parse_errors("271") == 1.0
    (warning,) = [line for line in logs if line["event"] == "document.parse_failed"]
    assert warning == {
        "event": "document.parse_failed",
        "log_level": "warning",
        "job_id": warning["job_id"],
        "event_id": event_id,
        "document": "271",
        "index": 0,
        "reason": coverage["parse_error"],
    }
    assert str(warning["job_id"]).startswith("job_")
    assert "TESTPATIENT" not in json.dumps(logs)
    assert "Commercial" not in json.dumps(logs)  # path names are upstream free text


async def test_a_271_with_a_short_isa_is_read(rig: Rig) -> None:
    """The shape of Optum's published Coverage Discovery example: ISA fields not padded."""
    short = (
        fixture_271()
        .replace("*SYNOPTUM       *", "*SYNOPTUM*")
        .replace("*SYNTPG00000    *", "*SYNTPG00000*")
    )
    await record_optum(rig.store, optum_payload("\ufeff" + short.replace("~", "~\r\n")))

    assert await rig.worker.run_once() == 1

    (message,) = await rig.messages("coverage_discovery.completed")
    (coverage,) = message.data["coverages"]  # type: ignore[misc]
    assert (coverage["member_id"], coverage["parse_error"]) == (MEMBER_ID, None)
    assert rig.parse_errors("271") == 0.0


async def test_an_837_with_a_bom_and_crlf_is_stored_and_indexed(rig: Rig) -> None:
    rig.mock.output_body = b"\xef\xbb\xbf" + X12_837.replace(b"~\n", b"~\r\n")
    body = fixture_bytes(WEBHOOK_837)
    account = await rig.store.fetch_account("acme")
    assert account is not None
    event = parse_stedi_webhook(
        json.loads(body),
        account=account,
        event_id="evt_837",
        body=body,
        headers={},
        received_at=NOW,
    )
    await rig.store.record_inbound(event, PROCESS_JOB)

    assert await rig.worker.run_once() == 1

    assert await job_status(rig.store, "evt_837") == "done"
    (document,) = await rig.store.fetch_documents("evt_837")
    assert document.body == rig.mock.output_body  # stored exactly as fetched
    timeline = await rig.store.claim_timeline("SYN0001842")
    assert [(t.kind, t.data["charge_amount"]) for t in timeline] == [("submitted", "245.00")]
