"""`receiver bench --json` end to end: a small run, and the shape of its report."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.server import clean_env

# Enough for every figure to be measured (a 5-request warm-up, 20 paced events); the report's
# shape, not its numbers, is what this checks, and the servers' start-ups are most of the time.
REQUESTS = 100


def test_bench_json_report() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "bench", "--requests", str(REQUESTS), "--json"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    assert {"cpu_count", "platform", "python"} <= report["machine"].keys()
    assert report["settings"]["requests"] == REQUESTS
    assert report["settings"]["concurrency"] == 32
    assert set(report["scenarios"]) == {"stedi", "optum", "end_to_end", "outage"}
    # Without RECEIVER_BENCH_POSTGRES_DSN the outage scenario says how to run it.
    assert report["scenarios"]["outage"]["measured"] is False
    assert "RECEIVER_BENCH_POSTGRES_DSN" in report["scenarios"]["outage"]["note"]
    for name in ("stedi", "optum"):
        scenario = report["scenarios"][name]
        assert scenario["measured"] is True
        assert scenario["ratio"] is not None
        assert scenario["ratio"] > 0
        for role in ("baseline", "receiver"):
            m = scenario[role]
            assert m["requests"] == REQUESTS
            assert m["errors"] == 0, (name, role, m)
            assert m["rps"] > 0
            assert m["p99_ms"] >= m["p50_ms"] > 0
    assert report["scenarios"]["optum"]["ratio_to_stedi"] > 0
    stedi = report["scenarios"]["stedi"]
    durable = stedi["durable"]
    assert durable["requests"] == REQUESTS
    assert durable["errors"] == 0, durable
    assert durable["p99_ms"] >= durable["p50_ms"] > 0
    assert stedi["durable_ratio"] > 0
    assert stedi["ratio_to_durable"] > 0
    end_to_end = report["scenarios"]["end_to_end"]
    assert end_to_end["measured"] is True
    assert end_to_end["events"] == REQUESTS
    assert end_to_end["errors"] == 0, end_to_end
    assert end_to_end["events_per_s"] > 0
    assert end_to_end["p99_ms"] >= end_to_end["p50_ms"] > 0
    assert end_to_end["ratio_to_stedi"] > 0
    assert end_to_end["paced_errors"] == 0, end_to_end
    assert end_to_end["paced_p99_ms"] >= end_to_end["paced_p50_ms"] > 0
    names = [t["name"] for t in report["targets"]]
    assert len(names) >= 6
    assert {
        "stedi req/s / durable baseline req/s >=",
        "e2e events/s / stedi req/s >=",
        "e2e p50 ms (paced) <",
    } <= set(names)
    assert all(isinstance(t["met"], bool) for t in report["targets"])
