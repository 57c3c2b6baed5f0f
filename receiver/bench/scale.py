"""`receiver bench --scale`: intake, `GET /events` and memory on a database of 1,000,000 events."""

from __future__ import annotations

import os
import secrets
import sqlite3
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from receiver.bench import loadgen
from receiver.bench.report import Measurement, Target, percentile, ratio
from receiver.bench.runner import Load, fetch_token, machine, measure
from receiver.bench.seed import TS_FORMAT, check_disk, seed
from receiver.bench.servers import (
    HOST,
    Server,
    free_port,
    pick_cpus,
    python_module,
    run_cli,
    run_pinned,
    running_server,
)
from receiver.bench.setup import (
    INBOUND_ENV,
    LOADGEN_TIMEOUT_S,
    STEDI_PATH,
    BenchOptions,
    Progress,
    add_account,
    receiver_env,
)
from receiver.models import EventFilter
from receiver.store import rows
from receiver.store.base import decode_cursor

SCALE_EVENTS = 1_000_000
PENDING_JOBS = 100_000
GET_REQUESTS_MAX = 200  # per query shape, sequential
READ_SCOPE = "events:read"

# The targets for a database already holding 1,000,000 events.
MIN_INTAKE_RATIO = 0.9
MAX_EVENTS_P99_MS = 20.0
MAX_RSS_MB = 200.0


# -- measurements ------------------------------------------------------------------------------
def memory(pid: int) -> dict[str, float | None]:
    """VmRSS and VmHWM (peak) of process `pid` in MB, from /proc (None elsewhere)."""
    found: dict[str, float | None] = {"rss_mb": None, "hwm_mb": None}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found["rss_mb" if name == "VmRSS" else "hwm_mb"] = round(
                int(value.split()[0]) / 1024, 1
            )
    return found


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}


def _serve(port: int) -> list[str]:
    return python_module("receiver", "serve", "--host", HOST, "--port", str(port), "--no-workers")


def _stedi_env(workdir: Path, port: int, secret: str) -> dict[str, str]:
    return receiver_env(workdir, port, **{INBOUND_ENV: secret})


def _intake(
    workdir: Path,
    secret: str,
    account_id: str,
    options: BenchOptions,
    cpus: tuple[int, int] | None,
    log: str,
) -> tuple[Measurement, dict[str, float | None]]:
    """Stedi webhooks into receiver on `workdir`'s database; the measurement and peak memory."""
    port = free_port()
    load = Load("stedi", STEDI_PATH, {"x-api-key": secret}, account_id)
    env = _stedi_env(workdir, port, secret)
    with running_server(
        _serve(port), port, env, workdir / log, cpus[0] if cpus else None
    ) as server:
        measured = measure(server, load, options, cpus[1] if cpus else None)
        return measured, memory(server.proc.pid)


@dataclass(frozen=True)
class Shape:
    """One `GET /events` query shape: its paths (cycled) and the filter behind the first."""

    name: str
    paths: tuple[str, ...]
    flt: EventFilter
    cursor: str | None = None


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def shapes(end: datetime, cursors: Mapping[str, str]) -> list[Shape]:
    """The query mix: by source, by account and status, by type in a time window, page 2."""
    windows = [(end - timedelta(days=d), end - timedelta(days=d - 1)) for d in (10, 30, 60)]
    page2 = [
        f"/events?source=stedi&limit=50&cursor={cursors['stedi']}",
        f"/events?account=acme&status=processed&cursor={cursors['acme']}",
    ]
    return [
        Shape(
            "source",
            tuple(f"/events?source={s}&limit=50" for s in ("stedi", "optum", "stedi-destination")),
            EventFilter(source="stedi"),
        ),
        Shape(
            "account+status",
            (
                "/events?account=acme&status=processed",
                "/events?account=umbrella&status=received",
                "/events?account=tenant-b&status=processed",
            ),
            EventFilter(account="acme", status="processed"),
        ),
        Shape(
            "type+since+until",
            tuple(
                f"/events?type={t}&since={_iso(a)}&until={_iso(b)}"
                for a, b in windows
                for t in ("transaction.processed.v2", "file.failed.v2")
            ),
            EventFilter(
                type="transaction.processed.v2",
                since=windows[1][0].replace(microsecond=0),
                until=windows[1][1].replace(microsecond=0),
            ),
        ),
        Shape("page 2 (cursor)", tuple(page2), EventFilter(source="stedi"), cursors["stedi"]),
    ]


def _first_cursors(url: str, token: str) -> dict[str, str]:
    """`next_cursor` of the first page of the queries whose second page is measured."""
    found: dict[str, str] = {}
    auth = {"authorization": f"Bearer {token}"}
    for name, query in (
        ("stedi", "source=stedi&limit=50"),
        ("acme", "account=acme&status=processed"),
    ):
        resp = httpx.get(f"{url}/events?{query}", headers=auth, timeout=30.0)
        if resp.status_code != 200:
            raise RuntimeError(f"GET /events?{query} answered {resp.status_code}: {resp.text}")
        cursor = resp.json().get("next_cursor")
        if not cursor:
            raise RuntimeError(f"GET /events?{query} has no second page: seed more events")
        found[name] = str(cursor)
    return found


def _get_shape(server: Server, shape: Shape, token: str, count: int) -> dict[str, Any]:
    """`count` sequential GETs of the shape's paths (after a 5% warm-up); their latencies."""
    spec = {
        "host": HOST,
        "port": server.port,
        "method": "GET",
        "paths": list(shape.paths),
        "path": shape.paths[0],  # required by the generator; `paths` replaces it for GET
        "kind": "stedi",
        "headers": {"authorization": f"Bearer {token}"},
        "requests": count,
        "warmup": max(1, count // 20),
        "concurrency": 1,
        "timeout_s": LOADGEN_TIMEOUT_S,
    }
    out = run_pinned(
        python_module(loadgen.__name__), orjson.dumps(spec), _base_env(), None, LOADGEN_TIMEOUT_S
    )
    return dict(orjson.loads(out))


def _latency(latencies_ns: Sequence[int], errors: int, requests: int) -> dict[str, Any]:
    ordered = sorted(latencies_ns)
    return {
        "requests": requests,
        "errors": errors,
        "p50_ms": round(percentile(ordered, 50) / 1e6, 3),
        "p99_ms": round(percentile(ordered, 99) / 1e6, 3),
        "max_ms": round(ordered[-1] / 1e6, 3) if ordered else 0.0,
    }


def query_plan(db_path: Path, shape: Shape) -> list[str]:
    """EXPLAIN QUERY PLAN of the exact statement the store runs for the shape's first path."""
    where, params = rows.event_conditions(shape.flt, decode_cursor(shape.cursor), lambda _: "?")
    sql = (
        f"EXPLAIN QUERY PLAN SELECT {rows.EVENT_COLUMNS} FROM inbound_events{where} "  # noqa: S608
        "ORDER BY seq DESC LIMIT ?"
    )
    values = [
        v.astimezone(UTC).strftime(TS_FORMAT) if isinstance(v, datetime) else v for v in params
    ]
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return [str(row[3]) for row in conn.execute(sql, [*values, 51])]
    finally:
        conn.close()


def measure_events_api(
    server: Server, token: str, end: datetime, count: int, db_path: Path, progress: Progress
) -> dict[str, Any]:
    """Every query shape, sequentially: p50/p99 per shape and overall, and each query plan."""
    cursors = _first_cursors(server.url, token)
    results: dict[str, Any] = {}
    everything: list[int] = []
    errors = 0
    for shape in shapes(end, cursors):
        progress(f"scale: GET /events {shape.name}")
        raw = _get_shape(server, shape, token, count)
        everything.extend(raw["latencies_ns"])
        errors += int(raw["errors"])
        results[shape.name] = {
            "paths": list(shape.paths),
            **_latency(raw["latencies_ns"], int(raw["errors"]), count),
            "statuses": raw.get("statuses", {}),
            "plan": query_plan(db_path, shape),
        }
    return {"shapes": results, "overall": _latency(everything, errors, len(everything))}


def _events_server(
    workdir: Path,
    secret: str,
    client: Mapping[str, str],
    end: datetime,
    count: int,
    log: str,
    cpus: tuple[int, int] | None,
    progress: Progress,
) -> dict[str, Any]:
    """A server on the seeded file: memory after start, the GET shapes, memory after them."""
    port = free_port()
    env = _stedi_env(workdir, port, secret)
    with running_server(_serve(port), port, env, workdir / log, cpus[0] if cpus else None) as srv:
        after_start = memory(srv.proc.pid)
        token = fetch_token(srv.url, client["client_id"], client["client_secret"])
        api = measure_events_api(srv, token, end, count, workdir / "receiver.db", progress)
        return {**api, "memory": {"after_start": after_start, "after_get": memory(srv.proc.pid)}}


def _targets(
    intake_ratio: float | None, errors: int, p99: float | None, peak_mb: float | None
) -> list[Target]:
    return [
        Target(
            "intake req/s on 1M / on empty >=",
            intake_ratio,
            MIN_INTAKE_RATIO,
            intake_ratio is not None and intake_ratio >= MIN_INTAKE_RATIO,
        ),
        Target(
            "GET /events p99 ms (all shapes) <",
            p99,
            MAX_EVENTS_P99_MS,
            p99 is not None and p99 < MAX_EVENTS_P99_MS,
        ),
        Target(
            "serving process peak RSS MB <",
            peak_mb,
            MAX_RSS_MB,
            peak_mb is not None and peak_mb < MAX_RSS_MB,
        ),
        Target("errors ==", float(errors), 0, errors == 0),
    ]


def run_scale(options: BenchOptions, events: int, progress: Progress) -> dict[str, Any]:
    """Seed a database of `events` events, measure on it and on an empty one; the report."""
    cpus = pick_cpus()
    pending = min(PENDING_JOBS, events // 10)
    gets = min(options.requests, GET_REQUESTS_MAX)
    secret = secrets.token_urlsafe(32)
    account_id = str(uuid.uuid4())
    with tempfile.TemporaryDirectory(prefix="receiver-bench-scale-") as tmp:
        root = Path(tmp)
        check_disk(root, events)
        empty, big = root / "empty", root / "seeded"
        empty.mkdir()
        big.mkdir()
        for workdir in (empty, big):
            env = _stedi_env(workdir, 0, secret)
            add_account(env, account_id)
        client = orjson.loads(
            run_cli(
                ["clients", "create", "bench-ops", "--scope", READ_SCOPE, "--json"],
                _stedi_env(big, 0, secret),
            )
        )
        progress(f"scale: seeding {events} events ({pending} jobs pending)")
        seeded = seed(big / "receiver.db", events, pending, progress)
        progress(f"scale: seeded in {seeded.seconds}s, {seeded.file_bytes / 1e9:.2f} GB")

        progress("scale: GET /events on the seeded database")
        api = _events_server(big, secret, client, seeded.end, gets, "events.log", cpus, progress)
        progress("scale: Stedi intake on an empty database")
        on_empty, _ = _intake(empty, secret, account_id, options, cpus, "intake-empty.log")
        progress("scale: Stedi intake on the seeded database")
        on_seeded, intake_memory = _intake(
            big, secret, account_id, options, cpus, "intake-seeded.log"
        )
        api["memory"]["after_intake"] = intake_memory

    intake_ratio = ratio(on_seeded, on_empty)
    peaks = [m["hwm_mb"] for m in api["memory"].values() if m.get("hwm_mb") is not None]
    errors = on_empty.errors + on_seeded.errors + int(api["overall"]["errors"])
    return {
        "machine": machine(cpus),
        "settings": {
            "events": events,
            "pending_jobs": pending,
            "requests": options.requests,
            "warmup": options.warmup,
            "concurrency": options.concurrency,
            "body_bytes": options.body_bytes,
            "get_requests_per_shape": gets,
        },
        "seed": {
            "events": seeded.events,
            "pending_jobs": seeded.pending_jobs,
            "seconds": seeded.seconds,
            "file_bytes": seeded.file_bytes,
        },
        "intake": {"empty": asdict(on_empty), "seeded": asdict(on_seeded), "ratio": intake_ratio},
        "events_api": {"shapes": api["shapes"], "overall": api["overall"]},
        "memory": api["memory"],
        "targets": [
            asdict(t)
            for t in _targets(
                intake_ratio, errors, api["overall"]["p99_ms"], max(peaks) if peaks else None
            )
        ],
    }
