"""Bench report math (percentiles, rates, ratios, targets) and its text table; all pure."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Issue 16's targets, checked in the same run: Stedi intake against the durable baseline (what
# durability alone costs), Optum against Stedi, end to end against Stedi intake.
STEDI_MIN_RATIO_TO_DURABLE = 0.6
STEDI_MAX_P99_MS = 30.0
OPTUM_MIN_RATIO_TO_STEDI = 0.9
E2E_MIN_RATIO_TO_STEDI = 0.25
E2E_MAX_P50_MS = 50.0


@dataclass(frozen=True)
class Measurement:
    """One server under one load: throughput, latency percentiles, errors, CPU shares."""

    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu: float | None = None
    loadgen_cpu: float | None = None
    server_kernel: float | None = None  # the share of the server's CPU that was the kernel's


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """The nearest-rank `q`-th percentile (0 < q <= 100) of ascending values; 0 if none."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def share(part: float, whole: float) -> float | None:
    """`part / whole` rounded to 3 places, or None when `whole` is not positive."""
    return round(part / whole, 3) if whole > 0 else None


def summarize(
    requests: int,
    errors: int,
    elapsed_ns: int,
    latencies_ns: Sequence[int],
    *,
    server_cpu_s: float | None = None,
    loadgen_cpu_s: float | None = None,
    server_kernel: float | None = None,
) -> Measurement:
    """A Measurement from a phase's raw figures (latencies in any order)."""
    ordered = sorted(latencies_ns)
    seconds = elapsed_ns / 1e9
    return Measurement(
        requests=requests,
        errors=errors,
        rps=round(requests / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=round(percentile(ordered, 50) / 1e6, 3),
        p99_ms=round(percentile(ordered, 99) / 1e6, 3),
        server_cpu=None if server_cpu_s is None else share(server_cpu_s, seconds),
        loadgen_cpu=None if loadgen_cpu_s is None else share(loadgen_cpu_s, seconds),
        server_kernel=server_kernel,
    )


def ratio(numerator: Measurement | None, denominator: Measurement | None) -> float | None:
    """Requests/s of `numerator` over those of `denominator` (None if either is missing)."""
    if numerator is None or denominator is None:
        return None
    return share(numerator.rps, denominator.rps)


@dataclass(frozen=True)
class Target:
    """One of the issue's targets and whether this run met it."""

    name: str
    value: float | None
    limit: float
    met: bool


def targets(
    stedi: Measurement | None, stedi_to_durable: float | None, optum_to_stedi: float | None
) -> list[Target]:
    """Stedi intake >= 0.6 of the durable baseline's req/s, p99 < 30 ms, no errors; Optum
    >= 0.9 of Stedi."""
    p99 = stedi.p99_ms if stedi else None
    errors = float(stedi.errors) if stedi else None
    return [
        Target(
            "stedi req/s / durable baseline req/s >=",
            stedi_to_durable,
            STEDI_MIN_RATIO_TO_DURABLE,
            stedi_to_durable is not None and stedi_to_durable >= STEDI_MIN_RATIO_TO_DURABLE,
        ),
        Target("stedi p99 ms <", p99, STEDI_MAX_P99_MS, p99 is not None and p99 < STEDI_MAX_P99_MS),
        Target("stedi errors ==", errors, 0, errors == 0),
        Target(
            "optum req/s / stedi req/s >=",
            optum_to_stedi,
            OPTUM_MIN_RATIO_TO_STEDI,
            optum_to_stedi is not None and optum_to_stedi >= OPTUM_MIN_RATIO_TO_STEDI,
        ),
    ]


def end_to_end_targets(ratio_to_stedi: float | None, p50_ms: float | None) -> list[Target]:
    """End to end >= 0.25 of the Stedi intake req/s, intake-to-delivery p50 < 50 ms (the
    p50 of the paced run: at saturation every latency is mostly time in the queue)."""
    return [
        Target(
            "e2e events/s / stedi req/s >=",
            ratio_to_stedi,
            E2E_MIN_RATIO_TO_STEDI,
            ratio_to_stedi is not None and ratio_to_stedi >= E2E_MIN_RATIO_TO_STEDI,
        ),
        Target(
            "e2e p50 ms (paced) <",
            p50_ms,
            E2E_MAX_P50_MS,
            p50_ms is not None and p50_ms < E2E_MAX_P50_MS,
        ),
    ]


@dataclass(frozen=True)
class EndToEndFigures:
    """Events sent vs delivered: events/s from first send to last delivery, latency p50/p99."""

    events: int
    delivered: int
    errors: int  # events sent but never delivered
    events_per_s: float
    p50_ms: float
    p99_ms: float


def end_to_end_figures(
    sent_ns: Mapping[str, int], arrivals: Iterable[tuple[str, int]]
) -> EndToEndFigures:
    """Figures from each event's send time and the sink's (event, arrival time) records, both
    wall-clock ns keyed by transaction id; a repeated delivery counts once, at its first arrival,
    and arrivals for events not in `sent_ns` are ignored."""
    first: dict[str, int] = {}
    for key, arrived in arrivals:
        if key in sent_ns and (key not in first or arrived < first[key]):
            first[key] = arrived
    latencies = sorted(arrived - sent_ns[key] for key, arrived in first.items())
    seconds = (max(first.values()) - min(sent_ns.values())) / 1e9 if first else 0.0
    return EndToEndFigures(
        events=len(sent_ns),
        delivered=len(first),
        errors=len(sent_ns) - len(first),
        events_per_s=round(len(first) / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=round(percentile(latencies, 50) / 1e6, 3),
        p99_ms=round(percentile(latencies, 99) / 1e6, 3),
    )


@dataclass(frozen=True)
class OutageFigures:
    """How one outage run drained: from the moment the mock Stedi turned healthy to the last
    event's first delivery, and whether the sink saw every message exactly once."""

    events: int
    delivered: int  # events of this run with at least one delivery
    deliveries: int  # every delivery of this run's events, repeats included
    distinct_webhook_ids: int
    duplicates: int  # deliveries beyond the first of each webhook-id
    drain_s: float
    events_per_s: float
    exactly_once: bool
    # By when half the events were delivered: with the drain, it tells the backlog's pace from
    # the last jobs' retry wait (exponential backoff pushes the tail out, not the middle).
    half_drained_s: float = 0.0


def outage_figures(
    expected: Collection[str], healthy_ns: int, arrivals: Iterable[tuple[str, int, str]]
) -> OutageFigures:
    """Figures from the transaction ids sent, the wall-clock ns the mock turned healthy, and
    the sink's (transaction id, arrival ns, webhook-id) records; arrivals of other events are
    ignored. Exactly once: one delivery per event, each with its own webhook-id."""
    wanted = set(expected)
    first: dict[str, int] = {}
    webhook_ids: list[str] = []
    for key, arrived, webhook_id in arrivals:
        if key not in wanted:
            continue
        webhook_ids.append(webhook_id)
        if key not in first or arrived < first[key]:
            first[key] = arrived
    distinct = len(set(webhook_ids))
    seconds = (max(first.values()) - healthy_ns) / 1e9 if first else 0.0
    ordered = sorted(first.values())
    half = (
        (ordered[(len(wanted) - 1) // 2] - healthy_ns) / 1e9
        if len(ordered) * 2 >= len(wanted)
        else 0.0
    )
    return OutageFigures(
        events=len(wanted),
        delivered=len(first),
        deliveries=len(webhook_ids),
        distinct_webhook_ids=distinct,
        duplicates=len(webhook_ids) - distinct,
        drain_s=round(max(seconds, 0.0), 3),
        events_per_s=round(len(first) / seconds, 1) if seconds > 0 else 0.0,
        exactly_once=len(first) == len(wanted) == distinct == len(webhook_ids),
        half_drained_s=round(max(half, 0.0), 3),
    )


def rate_ratio(rate: float | None, denominator: Measurement | None) -> float | None:
    """A rate (events/s) over `denominator`'s requests/s (None if either is missing)."""
    if rate is None or denominator is None:
        return None
    return share(rate, denominator.rps)


def _num(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: object) -> str:
    return f"{value * 100:.0f}%" if isinstance(value, float) else "-"


def _end_to_end_lines(scenario: Mapping[str, Any]) -> list[str]:
    lines = [
        f"{scenario['title']:<34}{'receiver':<10}{_num(scenario['events_per_s']):>9}"
        f"{_num(scenario['p50_ms'], 2):>9}{_num(scenario['p99_ms'], 2):>9}"
        f"{_num(scenario['errors']):>8}{'':>7}{_pct(scenario.get('server_cpu')):>9}"
        f"{'':>9}{_pct(scenario.get('server_kernel')):>9}"
    ]
    if scenario.get("ratio_to_stedi") is not None:
        lines.append(f"{'':<34}events/s = {scenario['ratio_to_stedi']:.2f} x Stedi intake")
    if scenario.get("paced_rate") is not None:
        lines.append(
            f"{'':<34}paced at {_num(scenario['paced_rate'])}/s: intake-to-delivery "
            f"p50 {_num(scenario['paced_p50_ms'], 2)} ms, p99 {_num(scenario['paced_p99_ms'], 2)}"
            f" ms, {_num(scenario['paced_errors'])} errors"
        )
    if scenario.get("note"):
        lines.append(f"{'':<34}{scenario['note']}")
    return lines


def _outage_run_line(label: str, run: Mapping[str, Any]) -> str:
    once = "exactly once" if run["exactly_once"] else "NOT exactly once"
    return (
        f"  {label:<18}drain {_num(run['drain_s'], 2):>7} s {_num(run['events_per_s']):>8} "
        f"events/s (half by {_num(run.get('half_drained_s'), 2)} s); "
        f"{run['delivered']}/{run['events']} delivered, "
        f"{run['distinct_webhook_ids']} distinct webhook-ids, {run['duplicates']} duplicates: "
        f"{once}; {run['fetches_failed_in_outage']} fetches answered 503 in the "
        f"{_num(run.get('outage_s'), 1)} s outage"
    )


def outage_lines(scenario: Mapping[str, Any]) -> list[str]:
    """The outage scenario's lines: each run's drain, their ratio, exactly-once, the schedule."""
    lines = [
        f"{scenario['title']}: {scenario['events']} events on {scenario['store']} at "
        f"concurrency {scenario['concurrency']}; drain = Stedi healthy -> last event delivered",
        _outage_run_line("one serve", scenario["serve"]),
        _outage_run_line("serve + 1 worker", scenario["serve_and_worker"]),
        f"  events/s with worker / one serve = {_num(scenario['ratio'], 2)}",
        f"  exactly once at the sink (distinct webhook-ids == events, no duplicates): "
        f"{'yes' if scenario['exactly_once'] else 'NO'}",
        f"  {scenario['retry_schedule']}",
    ]
    for label, run in (
        ("one serve", scenario["serve"]),
        ("serve + 1 worker", scenario["serve_and_worker"]),
    ):
        if not run["drained"]:
            lines.append(f"  {label}: not drained within the timeout")
    return lines


def format_outage_report(report: Mapping[str, Any]) -> str:
    """The human text of `receiver bench --outage` (the dict `--json` prints)."""
    machine = report["machine"]
    return "\n".join(
        [
            f"receiver bench --outage; machine: {machine['cpu_count']} CPUs, "
            f"{machine['platform']}, Python {machine['python']}",
            "",
            *outage_lines(report["scenarios"]["outage"]),
        ]
    )


def format_report(report: Mapping[str, Any]) -> str:
    """The human table of a report (the dict `--json` prints)."""
    machine, settings = report["machine"], report["settings"]
    pinned = machine.get("pinned")
    lines = [
        f"receiver bench: {settings['requests']} requests per server after "
        f"{settings['warmup']} warm-up, concurrency {settings['concurrency']}, "
        f"{settings['body_bytes']}-byte bodies, keep-alive over loopback",
        f"machine: {machine['cpu_count']} CPUs, {machine['platform']}, "
        f"Python {machine['python']}; "
        + (
            f"server on CPU {pinned['server_cpu']}, load generator on CPU {pinned['loadgen_cpu']}"
            if pinned
            else "processes not pinned"
        ),
        "",
        f"{'scenario':<34}{'server':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'ratio':>7}{'srv cpu':>9}{'gen cpu':>9}{'srv sys':>9}",
    ]
    outage = [s for s in report["scenarios"].values() if s.get("outage") and s.get("measured")]
    for scenario in report["scenarios"].values():
        if scenario.get("outage") and scenario.get("measured"):
            continue  # below the table
        if not scenario.get("measured", True):
            lines.append(f"{scenario['title']:<34}{scenario['note']}")
            continue
        if "events_per_s" in scenario:
            lines += _end_to_end_lines(scenario)
            continue
        shown_ratios = {"receiver": scenario["ratio"], "durable": scenario.get("durable_ratio")}
        for role in ("baseline", "durable", "receiver"):
            m = scenario.get(role)
            if m is None:
                continue
            title = scenario["title"] if role == "baseline" else ""
            shown_ratio = _num(shown_ratios[role], 2) if role in shown_ratios else ""
            lines.append(
                f"{title:<34}{role:<10}{_num(m['rps']):>9}{_num(m['p50_ms'], 2):>9}"
                f"{_num(m['p99_ms'], 2):>9}{_num(m['errors']):>8}{shown_ratio:>7}"
                f"{_pct(m.get('server_cpu')):>9}{_pct(m.get('loadgen_cpu')):>9}"
                f"{_pct(m.get('server_kernel')):>9}"
            )
        if scenario.get("ratio_to_durable") is not None:
            lines.append(
                f"{'':<34}receiver req/s = {scenario['ratio_to_durable']:.2f} x durable baseline"
            )
        if scenario.get("ratio_to_stedi") is not None:
            lines.append(
                f"{'':<34}receiver req/s = {scenario['ratio_to_stedi']:.2f} x Stedi intake"
            )
    for scenario in outage:
        lines += ["", *outage_lines(scenario)]
    lines += [
        "",
        "ratio = req/s / baseline req/s. durable = the baseline committing each body to SQLite",
        "(WAL, synchronous=FULL) through a minimal group-commit writer before answering: what",
        "durability alone costs on this machine, without verification, dedup, jobs or logs.",
        "srv sys = the share of the server's CPU that was the kernel's (socket writes, the WAL's",
        "writes and fsyncs): instruction counts (--instructions) do not see it.",
        "",
        "targets (this run):",
    ]
    for target in report["targets"]:
        verdict = "met" if target["met"] else "MISSED"
        value = "-" if target["value"] is None else f"{target['value']:g}"
        lines.append(f"  {target['name']} {target['limit']:g}: {value}  {verdict}")
    return "\n".join(lines)
