"""The bench report's pure math: percentiles, rates, ratios, targets, the table."""

from __future__ import annotations

import os
from dataclasses import asdict

import pytest

from receiver.bench.report import (
    Measurement,
    end_to_end_figures,
    end_to_end_targets,
    format_outage_report,
    format_report,
    outage_figures,
    percentile,
    rate_ratio,
    ratio,
    share,
    summarize,
    targets,
)
from receiver.bench.servers import cpu_seconds, cpu_split, kernel_share


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7], 99) == 7
    assert percentile([], 50) == 0
    assert percentile([1, 2, 3, 4], 50) == 2


def test_summarize_rates_and_milliseconds() -> None:
    latencies = [3_000_000, 1_000_000, 2_000_000, 4_000_000]  # any order
    m = summarize(4, 0, 2_000_000_000, latencies, server_cpu_s=1.0, loadgen_cpu_s=0.5)
    assert m.rps == 2.0
    assert m.p50_ms == 2.0
    assert m.p99_ms == 4.0
    assert m.p99_ms >= m.p50_ms
    assert (m.server_cpu, m.loadgen_cpu) == (0.5, 0.25)
    assert summarize(0, 0, 0, []).rps == 0.0


def test_ratio_and_share() -> None:
    fast = Measurement(10, 0, 1000.0, 1.0, 2.0)
    slow = Measurement(10, 0, 600.0, 2.0, 5.0)
    assert ratio(slow, fast) == 0.6
    assert ratio(slow, None) is None
    assert ratio(slow, Measurement(10, 0, 0.0, 0.0, 0.0)) is None
    assert share(1, 3) == 0.333


@pytest.mark.parametrize(
    ("stedi_ratio", "p99", "errors", "optum", "met"),
    [
        (0.6, 29.9, 0, 0.9, [True, True, True, True]),
        (0.59, 30.0, 1, 0.89, [False, False, False, False]),
        (None, 1.0, 0, None, [False, True, True, False]),
    ],
)
def test_targets(
    stedi_ratio: float | None, p99: float, errors: int, optum: float | None, met: list[bool]
) -> None:
    stedi = Measurement(100, errors, 500.0, 1.0, p99)
    found = targets(stedi, stedi_ratio, optum)
    assert [t.met for t in found] == met
    assert found[0].name == "stedi req/s / durable baseline req/s >="
    assert found[0].limit == 0.6


def test_end_to_end_figures() -> None:
    ms = 1_000_000
    sent = {"a": 0, "b": 10 * ms, "c": 20 * ms, "d": 30 * ms}
    arrivals = [
        ("b", 40 * ms),
        ("a", 20 * ms),
        ("a", 500 * ms),  # a repeated delivery counts once, at its first arrival
        ("x", 900 * ms),  # not an event of this run
        ("c", 1000 * ms),
    ]
    figures = end_to_end_figures(sent, arrivals)
    assert (figures.events, figures.delivered, figures.errors) == (4, 3, 1)
    assert figures.events_per_s == 3.0  # 3 delivered from the first send (0) to the last (1 s)
    assert figures.p50_ms == 30.0  # latencies 20, 30, 980 ms
    assert figures.p99_ms == 980.0
    empty = end_to_end_figures(sent, [])
    assert (empty.delivered, empty.errors, empty.events_per_s, empty.p50_ms) == (0, 4, 0.0, 0.0)


def test_the_kernels_share_is_read_from_two_cpu_splits() -> None:
    assert kernel_share((1.0, 0.5), (2.5, 1.0)) == 0.25  # 1.5 s user, 0.5 s system
    assert kernel_share((1.0, 0.5), (1.0, 0.5)) is None  # no CPU used between them
    assert kernel_share(None, (1.0, 0.5)) is None
    split = cpu_split(os.getpid())
    assert split is not None
    assert cpu_seconds(os.getpid()) == pytest.approx(sum(split), abs=0.05)


def test_end_to_end_targets_and_rate_ratio() -> None:
    assert [t.met for t in end_to_end_targets(0.25, 49.9)] == [True, True]
    assert [t.met for t in end_to_end_targets(0.249, 50.0)] == [False, False]
    assert [t.met for t in end_to_end_targets(None, None)] == [False, False]
    stedi = Measurement(10, 0, 1000.0, 1.0, 2.0)
    assert rate_ratio(300.0, stedi) == 0.3
    assert rate_ratio(None, stedi) is None
    assert rate_ratio(300.0, None) is None


def test_format_report_shows_every_scenario() -> None:
    m = asdict(Measurement(100, 0, 500.0, 1.0, 2.0, 0.9, 0.4))
    report = {
        "machine": {"cpu_count": 2, "platform": "Linux", "python": "3.11", "pinned": None},
        "settings": {"requests": 100, "warmup": 5, "concurrency": 32, "body_bytes": 4096},
        "scenarios": {
            "stedi": {
                "title": "Stedi",
                "measured": True,
                "baseline": m,
                "durable": asdict(Measurement(100, 0, 200.0, 3.0, 9.0, 0.9, 0.4, 0.25)),
                "receiver": m,
                "ratio": 1.0,
                "durable_ratio": 0.4,
                "ratio_to_durable": 2.5,
            },
            "end_to_end": {"title": "e2e", "measured": False, "note": "not measured: later"},
            "e2e_measured": {
                "title": "end to end",
                "measured": True,
                "note": "300 events",
                "events_per_s": 123.4,
                "p50_ms": 12.5,
                "p99_ms": 40.0,
                "errors": 0,
                "events": 300,
                "server_cpu": 0.9,
                "ratio_to_stedi": 0.25,
                "paced_rate": 25,
                "paced_p50_ms": 12.5,
                "paced_p99_ms": 30.25,
                "paced_errors": 0,
            },
        },
        "targets": [
            asdict(t)
            for t in [*targets(Measurement(**m), 1.0, None), *end_to_end_targets(0.25, 12.5)]
        ],
    }
    text = format_report(report)
    assert "123.4" in text
    assert "events/s = 0.25 x Stedi intake" in text
    assert "300 events" in text
    assert "paced at 25/s: intake-to-delivery p50 12.50 ms, p99 30.25 ms, 0 errors" in text
    assert "e2e p50 ms (paced) < 50: 12.5  met" in text
    assert "Stedi" in text
    durable_row = next(line for line in text.splitlines() if line.lstrip().startswith("durable "))
    assert durable_row.split()[1:3] == ["200.0", "3.00"]
    assert "0.40" in durable_row
    assert durable_row.split()[-3:] == ["90%", "40%", "25%"]  # srv cpu, gen cpu, srv sys
    assert "receiver req/s = 2.50 x durable baseline" in text
    assert "not measured: later" in text
    assert "MISSED" in text
    assert "stedi req/s / durable baseline req/s >= 0.6: 1  met" in text
    assert "2 CPUs" in text


def test_outage_figures_count_each_message_once() -> None:
    s = 1_000_000_000
    healthy = 10 * s
    arrivals = [
        ("a", 11 * s, "msg_a"),
        ("b", 12 * s, "msg_b"),
        ("x", 30 * s, "msg_x"),  # not an event of this run
        ("c", 14 * s, "msg_c"),
    ]
    once = outage_figures(["a", "b", "c"], healthy, arrivals)
    assert once.exactly_once
    assert (once.events, once.delivered, once.deliveries, once.duplicates) == (3, 3, 3, 0)
    assert once.drain_s == 4.0  # healthy at 10 s, the last event first delivered at 14 s
    assert once.events_per_s == 0.8
    assert once.half_drained_s == 2.0  # the second of three delivered at 12 s

    repeated = outage_figures(["a", "b", "c"], healthy, [*arrivals, ("b", 20 * s, "msg_b")])
    assert not repeated.exactly_once
    assert (repeated.distinct_webhook_ids, repeated.duplicates) == (3, 1)
    assert repeated.drain_s == 4.0  # a repeat is not what the drain waits for

    missing = outage_figures(["a", "b", "c", "d"], healthy, arrivals)
    assert not missing.exactly_once
    assert missing.delivered == 3
    nothing = outage_figures(["a"], healthy, [])
    assert (nothing.delivered, nothing.drain_s, nothing.events_per_s) == (0, 0.0, 0.0)
    assert not nothing.exactly_once


def test_format_outage_report() -> None:
    def run(drain: float, rate: float, once: bool) -> dict[str, object]:
        return {
            "events": 50,
            "delivered": 50,
            "deliveries": 50,
            "distinct_webhook_ids": 50 if once else 49,
            "duplicates": 0 if once else 1,
            "drain_s": drain,
            "events_per_s": rate,
            "exactly_once": once,
            "drained": True,
            "fetches_failed_in_outage": 12,
        }

    report = {
        "machine": {"cpu_count": 2, "platform": "Linux", "python": "3.11"},
        "scenarios": {
            "outage": {
                "title": "outage recovery",
                "measured": True,
                "outage": True,
                "store": "postgresql",
                "events": 50,
                "concurrency": 32,
                "retry_schedule": "follow-up retries: 5 s doubling",
                "serve": run(10.0, 5.0, True),
                "serve_and_worker": run(5.0, 10.0, False),
                "ratio": 2.0,
                "exactly_once": False,
            }
        },
    }
    text = format_outage_report(report)
    assert "50 events on postgresql" in text
    assert "events/s with worker / one serve = 2.00" in text
    assert "exactly once at the sink (distinct webhook-ids == events, no duplicates): NO" in text
    assert "follow-up retries: 5 s doubling" in text
    serve_line = next(line for line in text.splitlines() if "one serve" in line)
    assert "10.00 s" in serve_line
    assert ": exactly once;" in serve_line
