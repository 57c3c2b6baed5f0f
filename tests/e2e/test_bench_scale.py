"""`receiver bench --scale --json` end to end: a tiny seeded database, the report's shape."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.server import clean_env


def test_bench_scale_json_report() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "receiver",
            "bench",
            "--scale",
            "--scale-events",
            "2000",
            "--requests",
            "300",
            "--json",
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    assert report["settings"]["events"] == 2000
    assert report["settings"]["pending_jobs"] == 200
    assert report["settings"]["requests"] == 300
    assert report["seed"]["events"] == 2000
    assert report["seed"]["seconds"] >= 0
    assert report["seed"]["file_bytes"] > 0
    intake = report["intake"]
    for name in ("empty", "seeded"):
        m = intake[name]
        assert m["requests"] == 300
        assert m["errors"] == 0, (name, m)
        assert m["rps"] > 0
        assert m["p99_ms"] >= m["p50_ms"] > 0
    assert intake["ratio"] > 0
    api = report["events_api"]
    assert set(api["shapes"]) == {"source", "account+status", "type+since+until", "page 2 (cursor)"}
    for name, shape in api["shapes"].items():
        assert shape["requests"] == report["settings"]["get_requests_per_shape"] > 0
        assert shape["errors"] == 0, (name, shape)
        assert set(shape["statuses"]) == {"200"}, (name, shape)
        assert shape["p99_ms"] >= shape["p50_ms"] > 0
        assert shape["plan"], name
    assert api["overall"]["requests"] == 4 * report["settings"]["get_requests_per_shape"]
    assert api["overall"]["errors"] == 0
    assert set(report["memory"]) == {"after_start", "after_get", "after_intake"}
    for m in report["memory"].values():
        assert m["hwm_mb"] >= m["rss_mb"] > 0
    assert [t["name"] for t in report["targets"]] == [
        "intake req/s on 1M / on empty >=",
        "GET /events p99 ms (all shapes) <",
        "serving process peak RSS MB <",
        "errors ==",
    ]
    assert all(isinstance(t["met"], bool) for t in report["targets"])
