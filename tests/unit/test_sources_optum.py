"""Optum Coverage Discovery callbacks: lenient parsing, dedup key, a summary without PHI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from receiver.errors import BadRequestError
from receiver.intake.body import clean_headers
from receiver.intake.optum import parse_coverage_discovery
from receiver.models import InboundEvent, Source

FIXTURES = Path(__file__).parents[2] / "fixtures" / "optum"
BODY = (FIXTURES / "coverage-discovery.callback.success.json").read_bytes()
RAW_HEADERS: dict[str, str] = json.loads(
    (FIXTURES / "coverage-discovery.callback.request-headers.example.json").read_bytes()
)
HEADERS = clean_headers(((k, v) for k, v in RAW_HEADERS.items() if not k.startswith("_")), ())
NOW = datetime(2025, 3, 12, 14, 10, 42, tzinfo=UTC)
TASK_ID = "3e5a7c9e-1b3d-4f5a-8c7e-9a1b3c5d7e20"
TENANT_ID = "4f6a8c0e-2b4d-4f6a-8c0e-2b4d6f8a0c11"


def payload() -> dict[str, object]:
    value = json.loads(BODY)
    assert isinstance(value, dict)
    return value


def parse(body: dict[str, object], headers: dict[str, str] | None = None) -> InboundEvent:
    return parse_coverage_discovery(
        body,
        event_id="evt_local",
        body=BODY,
        headers=HEADERS if headers is None else headers,
        received_at=NOW,
    )


class TestSuccessFixture:
    def test_event(self) -> None:
        event = parse(payload())
        assert event.id == "evt_local"
        assert event.source is Source.OPTUM
        assert event.type == "coverage_discovery.task"
        assert event.account == TENANT_ID
        assert event.external_id == TASK_ID
        assert event.dedup_keys == (f"optum:task:{TASK_ID}:success",)
        assert event.body == BODY
        assert event.headers == HEADERS
        assert "authorization" not in event.headers
        assert event.received_at == NOW
        assert event.transaction_id is None

    def test_summary(self) -> None:
        assert parse(payload()).summary == {
            "task_id": TASK_ID,
            "task_status": "success",
            "tenant_id": TENANT_ID,
            "correlation_id": "syn-corr-000771",
            "task_type": "serial",
            "trace_id": "7a9c1e3b-5d7f-4a9c-8e1b-3d5f7a9c1e31",
            "path_counts": {"successful": 1, "unsuccessful": 1, "pending": 0, "skipped": 1},
        }

    def test_no_phi_in_summary(self) -> None:
        text = repr(parse(payload()).summary)
        for phi in ("TESTPATIENT", "JORDAN", "ZZC998877001", "ISA*", "19750505"):
            assert phi not in text
        assert "Synthetic Clinic Group" not in text


class TestLenience:
    def test_a_pending_task_has_its_own_dedup_key(self) -> None:
        body = payload()
        body["status"] = "pending"
        assert parse(body).dedup_keys == (f"optum:task:{TASK_ID}:pending",)

    def test_correlation_id_falls_back_on_the_body(self) -> None:
        headers = {k: v for k, v in HEADERS.items() if k != "x-optum-correlation-id"}
        body = payload()
        body["correlationId"] = "from-body"
        assert parse(body, headers).summary["correlation_id"] == "from-body"

    def test_header_correlation_id_wins(self) -> None:
        body = payload()
        body["correlationId"] = "from-body"
        assert parse(body).summary["correlation_id"] == "syn-corr-000771"

    def test_no_tenant_header(self) -> None:
        event = parse(payload(), {"content-type": "application/json"})
        assert event.account is None
        assert event.summary["tenant_id"] is None

    @pytest.mark.parametrize(
        ("raw", "clean"),
        [
            ("abc-123,", "abc-123"),
            ("abc-123 , ,\n", "abc-123"),
            ("  abc-123", "abc-123"),
            (",,,", None),
            (42, None),
        ],
    )
    def test_trace_id_junk_is_stripped(self, raw: object, clean: str | None) -> None:
        body = payload()
        body["traceId"] = raw
        assert parse(body).summary["trace_id"] == clean

    @pytest.mark.parametrize(
        ("paths", "counts"),
        [
            (None, {"successful": 0, "unsuccessful": 0, "pending": 0, "skipped": 0}),
            ("odd", {"successful": 0, "unsuccessful": 0, "pending": 0, "skipped": 0}),
            (
                {"successful": [{}, {}], "pending": "x", "payeridCHANGESARAH": [1]},
                {"successful": 2, "unsuccessful": 0, "pending": 0, "skipped": 0},
            ),
        ],
    )
    def test_odd_discovery_paths(self, paths: object, counts: dict[str, int]) -> None:
        body = payload()
        if paths is None:
            del body["discoveryPaths"]
        else:
            body["discoveryPaths"] = paths
        assert parse(body).summary["path_counts"] == counts

    def test_unknown_fields_are_ignored(self) -> None:
        body = payload()
        body["payeridCHANGESARAH"] = "x"
        body["type"] = ["not", "a", "string"]
        event = parse(body)
        assert event.summary["task_type"] is None
        assert "payeridCHANGESARAH" not in repr(event.summary)

    @pytest.mark.parametrize(
        ("field", "value"),
        [("id", None), ("id", ""), ("id", 17), ("status", None), ("status", ""), ("status", 1)],
    )
    def test_id_and_status_are_required(self, field: str, value: object) -> None:
        body = payload()
        if value is None:
            del body[field]
        else:
            body[field] = value
        with pytest.raises(BadRequestError, match=f"'{field}'"):
            parse(body)
