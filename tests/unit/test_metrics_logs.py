"""The hot path's metrics and log lines: label children bound once still count into the
exported series, and the orjson renderer writes what the json module wrote, redacted."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime

import orjson
import structlog

from receiver.logs import configure_logging
from receiver.metrics import Metrics


def test_bound_children_are_the_registry_series() -> None:
    metrics = Metrics()
    first = metrics.inbound_events.labels("stedi", "accepted")
    assert metrics.inbound_events.labels("stedi", "accepted") is first
    for _ in range(3):
        metrics.inbound_events.labels("stedi", "accepted").inc()
    metrics.inbound_events.labels(source="stedi", outcome="duplicate").inc()
    metrics.intake_seconds.labels("stedi").observe(0.003)
    metrics.jobs.labels("pending").set(7)
    text = metrics.render().decode()
    assert 'receiver_inbound_events_total{outcome="accepted",source="stedi"} 3.0' in text
    assert 'receiver_inbound_events_total{outcome="duplicate",source="stedi"} 1.0' in text
    assert 'receiver_intake_seconds_bucket{le="0.005",source="stedi"} 1.0' in text
    assert 'receiver_jobs{state="pending"} 7.0' in text
    # Another app's registry keeps its own children.
    assert 'outcome="accepted"' not in Metrics().render().decode()


@dataclasses.dataclass
class _Row:
    member_id: str


def test_json_lines_are_orjson_with_the_json_fallbacks() -> None:
    stream = io.StringIO()
    configure_logging("json", "info", stream)
    structlog.get_logger("t").info(
        "probe",
        count=2,
        codes={400: "bad"},
        row=_Row("SYN123"),
        body="never",
        at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    line = orjson.loads(stream.getvalue().strip())
    assert line["event"] == "probe"
    assert line["count"] == 2
    assert line["codes"] == {"400": "bad"}
    assert line["row"] == "_Row(member_id='SYN123')"  # repr, as json.dumps' fallback gave
    assert line["body"] == "[redacted]"
    assert line["at"] == "2026-01-02T00:00:00+00:00"
    assert line["level"] == "info"
