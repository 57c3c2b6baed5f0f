"""`receiver bench --scale`: the human table of a scale report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _num(value: object, digits: int = 2) -> str:
    return (
        "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    )


def format_scale_report(report: Mapping[str, Any]) -> str:
    """The human table of a scale report (the dict `--json` prints)."""
    s, seed_ = report["settings"], report["seed"]
    lines = [
        f"receiver bench --scale: {s['events']} events seeded ({s['pending_jobs']} jobs pending) "
        f"in {seed_['seconds']:.1f}s, {seed_['file_bytes'] / 1e9:.2f} GB",
        f"intake: {s['requests']} Stedi webhooks after {s['warmup']} warm-up, concurrency "
        f"{s['concurrency']}; GET /events: {s['get_requests_per_shape']} sequential per shape",
        "",
        f"{'Stedi intake':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}",
    ]
    for name in ("empty", "seeded"):
        m = report["intake"][name]
        lines.append(
            f"{name + ' database':<22}{_num(m['rps'], 1):>9}{_num(m['p50_ms']):>9}"
            f"{_num(m['p99_ms']):>9}{m['errors']:>8}"
        )
    lines.append(f"{'ratio seeded / empty':<22}{_num(report['intake']['ratio']):>9}")

    def api_table(title: str, api: Mapping[str, Any]) -> None:
        lines.extend(["", f"{title:<22}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"])
        for name, r in [*api["shapes"].items(), ("overall", api["overall"])]:
            lines.append(
                f"{name:<22}{_num(r['p50_ms']):>9}{_num(r['p99_ms']):>9}"
                f"{_num(r['max_ms']):>9}{r['errors']:>8}"
            )
            for step in r.get("plan", []):
                lines.append(f"{'':<4}plan: {step}")

    api_table("GET /events", report["events_api"])
    lines.extend(["", f"{'memory (MB)':<22}{'RSS':>9}{'peak':>9}"])
    for name, m in report["memory"].items():
        lines.append(f"{name:<22}{_num(m['rss_mb'], 1):>9}{_num(m['hwm_mb'], 1):>9}")
    lines += ["", "targets (this run):"]
    for target in report["targets"]:
        verdict = "met" if target["met"] else "NOT MET"
        value = "-" if target["value"] is None else f"{target['value']:g}"
        lines.append(f"  {target['name']} {target['limit']:g}: {value}  {verdict}")
    return "\n".join(lines)
