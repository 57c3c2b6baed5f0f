"""Bench report math (percentiles, rates, ratios, targets) and its text table; all pure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The targets the issue sets, checked in the same run.
STEDI_MIN_RATIO = 0.5
STEDI_MAX_P99_MS = 30.0
OPTUM_MIN_RATIO_TO_STEDI = 0.9
E2E_MIN_RATIO_TO_STEDI = 0.3
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
    stedi: Measurement | None, stedi_ratio: float | None, optum_to_stedi: float | None
) -> list[Target]:
    """Stedi intake >= 0.5 of baseline req/s, p99 < 30 ms, no errors; Optum >= 0.9 of Stedi."""
    p99 = stedi.p99_ms if stedi else None
    errors = float(stedi.errors) if stedi else None
    return [
        Target(
            "stedi req/s / baseline req/s >=",
            stedi_ratio,
            STEDI_MIN_RATIO,
            stedi_ratio is not None and stedi_ratio >= STEDI_MIN_RATIO,
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
    """End to end >= 0.3 of the Stedi intake req/s, intake-to-delivery p50 < 50 ms (the
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
        f"{'errors':>8}{'ratio':>7}{'srv cpu':>9}{'gen cpu':>9}",
    ]
    for scenario in report["scenarios"].values():
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
            )
        if scenario.get("ratio_to_durable") is not None:
            lines.append(
                f"{'':<34}receiver req/s = {scenario['ratio_to_durable']:.2f} x durable baseline"
            )
        if scenario.get("ratio_to_stedi") is not None:
            lines.append(
                f"{'':<34}receiver req/s = {scenario['ratio_to_stedi']:.2f} x Stedi intake"
            )
    lines += [
        "",
        "ratio = req/s / baseline req/s. durable = the baseline committing each body to SQLite",
        "(WAL, synchronous=FULL) through a minimal group-commit writer before answering: what",
        "durability alone costs on this machine, without verification, dedup, jobs or logs.",
        "",
        "targets (this run):",
    ]
    for target in report["targets"]:
        verdict = "met" if target["met"] else "NOT MET"
        value = "-" if target["value"] is None else f"{target['value']:g}"
        lines.append(f"  {target['name']} {target['limit']:g}: {value}  {verdict}")
    return "\n".join(lines)
