"""`receiver bench --scale`: intake, `GET /events` and memory on a database of 1,000,000 events."""

from __future__ import annotations

import base64
import os
import random
import secrets
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from receiver.bench import loadgen
from receiver.bench.payloads import PADDING_FIELD, optum_body, stedi_body
from receiver.bench.report import Measurement, Target, percentile, ratio
from receiver.bench.runner import (
    INBOUND_ENV,
    LOADGEN_TIMEOUT_S,
    STEDI_PATH,
    BenchOptions,
    Load,
    Progress,
    add_account,
    fetch_token,
    machine,
    measure,
    receiver_env,
)
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
from receiver.models import EventFilter
from receiver.store import rows
from receiver.store.base import decode_cursor

SCALE_EVENTS = 1_000_000
PENDING_JOBS = 100_000
SEED_BODY_BYTES = 1024
SEED_DAYS = 90
SEED_BATCH = 50_000
# Bytes a seeded event takes on disk with its indexes, dedup keys and job (measured ~3.0 KB).
EST_BYTES_PER_EVENT = 3500
GET_REQUESTS_MAX = 200  # per query shape, sequential
READ_SCOPE = "events:read"

# The targets for a database already holding 1,000,000 events.
MIN_INTAKE_RATIO = 0.9
MAX_EVENTS_P99_MS = 20.0
MAX_RSS_MB = 200.0

_STEDI_ACCOUNTS = (("bench", 0.40), ("acme", 0.30), ("globex", 0.20), ("initech", 0.08))
_STEDI_ACCOUNTS_TAIL = "umbrella"  # the remaining 2%: a small account
_OPTUM_TENANTS = (("tenant-a", 0.8),)
_OPTUM_TENANTS_TAIL = "tenant-b"
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TO_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz"
)
_EVENT_MARK = "00000000-0000-4000-8000-0000000000e1"
_TXN_MARK = "00000000-0000-4000-8000-0000000000f2"


@dataclass(frozen=True)
class SeedResult:
    """What seeding wrote and how long it took."""

    events: int
    pending_jobs: int
    seconds: float
    file_bytes: int
    end: datetime  # received_at of the newest seeded event


# -- seeding -----------------------------------------------------------------------------------
def _id(prefix: str, millis: int, rng: random.Random) -> str:
    """An id shaped like receiver.ids.new_id: 48 bits of milliseconds, 80 random bits."""
    raw = millis.to_bytes(6, "big") + rng.getrandbits(80).to_bytes(10, "big")
    return f"{prefix}_{base64.b32encode(raw)[:26].translate(_TO_CROCKFORD).decode()}"


def _pick(rng: random.Random, choices: Sequence[tuple[str, float]], tail: str) -> str:
    r = rng.random()
    for name, weight in choices:
        if r < weight:
            return name
        r -= weight
    return tail


def _destination_body(webhook_id: str, transaction_id: str, event_type: str) -> bytes:
    document: dict[str, Any] = {
        "id": webhook_id,
        "type": event_type,
        "environment": "production",
        "created": "2025-03-21T08:11:03Z",
        "resource": {"type": "transaction", "id": transaction_id},
        "data": {"transactionId": transaction_id, "x12": {"transactionSetIdentifier": "835"}},
    }
    return _to_size(document)


_STEDI_HEADERS = orjson.dumps(
    {
        "host": "receiver.example.com",
        "content-type": "application/json",
        "content-length": str(SEED_BODY_BYTES),
        "user-agent": "Amazon/EventBridge/ApiDestinations",
    }
).decode()
_OPTUM_HEADERS = orjson.dumps(
    {
        "host": "receiver.example.com",
        "content-type": "application/json",
        "content-length": str(SEED_BODY_BYTES),
        "x-optum-tenant-id": "TENANT",
        "x-optum-correlation-id": "syn-corr-000771",
    }
).decode()


def _to_size(document: dict[str, Any]) -> bytes:
    """`document` padded to SEED_BODY_BYTES with the bench's filler field."""
    document.pop(PADDING_FIELD, None)
    bare = orjson.dumps({**document, PADDING_FIELD: ""})
    return orjson.dumps({**document, PADDING_FIELD: "x" * max(0, SEED_BODY_BYTES - len(bare))})


def _templates() -> tuple[bytes, bytes]:
    """Stedi and Optum bodies of ~1 KB: the bench payloads without their bulkiest parts
    (artifacts, partnership, the X12 271), ids still in place for substitution."""
    stedi = orjson.loads(stedi_body(_EVENT_MARK, _TXN_MARK, str(uuid.UUID(int=7)), 0))
    envelope = stedi["event"]
    envelope.pop("resources")
    envelope["detail"].pop("artifacts")
    envelope["detail"].pop("partnership")
    optum = orjson.loads(optum_body(_EVENT_MARK, 0))
    optum["discoveryPaths"]["successful"][0]["transaction"].pop("x12-271")
    optum["discoveryPaths"].pop("unsuccessful")
    return _to_size(stedi), _to_size(optum)


def _seed_rows(
    count: int, pending: int, end: datetime, seed: int = 1
) -> Iterator[tuple[tuple[object, ...], list[tuple[str, str]], tuple[object, ...]]]:
    """(event row, dedup rows, job row) per event, oldest first, received_at spread over
    SEED_DAYS up to `end`; the newest `pending` events have a pending job, the rest done."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    stedi_template, optum_template = _templates()
    start = end - timedelta(days=SEED_DAYS)
    step_us = SEED_DAYS * 86400 * 1_000_000 // max(1, count)
    for i in range(count):
        at = start + timedelta(microseconds=i * step_us + rng.randrange(max(1, step_us)))
        millis = int(at.timestamp() * 1000)
        received = at.strftime(_TS_FORMAT)
        event_id = _id("evt", millis, rng)
        external = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        is_pending = i >= count - pending
        r = rng.random()
        transaction_id: str | None = None
        transaction_set: str | None = None
        direction: str | None = None
        if r < 0.70:
            source = "stedi"
            account = _pick(rng, _STEDI_ACCOUNTS, _STEDI_ACCOUNTS_TAIL)
            t = rng.random()
            event_type = (
                "transaction.processed.v2"
                if t < 0.85
                else "file.processed.v2"
                if t < 0.95
                else "file.failed.v2"
            )
            transaction_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            transaction_set = rng.choice(("835", "835", "277", "837", "999"))
            direction = "OUTBOUND" if transaction_set == "837" else "INBOUND"
            keys = [f"stedi:event:{external}", f"stedi:txn:{transaction_id}:{event_type}"]
            if event_type.startswith("file."):
                keys.append(f"stedi:file:{uuid.UUID(int=rng.getrandbits(128))}:{event_type}")
            summary: dict[str, object] = {
                "stedi_account_id": "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6",
                "detail_type": event_type,
                "file_execution_id": "9d1b3f5a-7c9e-4b1d-a3f5-6e8c0a2b4d95",
                "mode": "production",
                "processed_at": received,
                "interchange_control_number": 330000912 + i,
                "group_control_number": 330000912 + i,
                "transaction_control_number": "000000001",
                "functional_identifier_code": "HP",
                "release": "005010X221A1",
                "fault_codes": ["X12_PARSE"] if event_type == "file.failed.v2" else [],
                "wrapped": True,
            }
            body = stedi_template.replace(_EVENT_MARK.encode(), external.encode()).replace(
                _TXN_MARK.encode(), transaction_id.encode()
            )
            headers = _STEDI_HEADERS
        elif r < 0.80:
            source = "stedi-destination"
            account = _pick(rng, _STEDI_ACCOUNTS, _STEDI_ACCOUNTS_TAIL)
            event_type = "transaction.processed" if rng.random() < 0.9 else "file.failed"
            transaction_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            transaction_set = "835"
            webhook_id = f"msg_{external.replace('-', '')}"
            keys = [f"stedi-destination:{account}:{webhook_id}"]
            summary = {
                "stedi_account_id": "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6",
                "event_type": event_type,
                "environment": "production",
                "stedi_event_id": external,
                "resource_type": "transaction",
                "created": received,
                "attempt_number": 1,
                "attempt_type": "initial",
                "destination_id": "dst_01",
            }
            body = _destination_body(webhook_id, transaction_id, event_type)
            headers = _STEDI_HEADERS
        else:
            source = "optum"
            account = _pick(rng, _OPTUM_TENANTS, _OPTUM_TENANTS_TAIL)
            event_type = "coverage_discovery.task"
            keys = [f"optum:task:{external}:success"]
            summary = {
                "task_id": external,
                "task_status": "success",
                "tenant_id": account,
                "correlation_id": "syn-corr-000771",
                "task_type": "serial",
                "trace_id": "7a9c1e3b-5d7f-4a9c-8e1b-3d5f7a9c1e31",
                "path_counts": {"successful": 1, "unsuccessful": 1, "pending": 0, "skipped": 1},
            }
            body = optum_template.replace(_EVENT_MARK.encode(), external.encode())
            headers = _OPTUM_HEADERS.replace("TENANT", account)
        event = (
            event_id,
            source,
            event_type,
            account,
            external,
            "received" if is_pending else "processed",
            transaction_id,
            transaction_set,
            direction,
            received,
            orjson.dumps(summary).decode(),
            headers,
            body,
        )
        done_at = (at + timedelta(seconds=2)).strftime(_TS_FORMAT)
        job = (
            _id("job", millis, rng),
            event_id,
            "process",
            "pending" if is_pending else "done",
            0 if is_pending else 1,
            received,
            received,
            received if is_pending else done_at,
        )
        yield event, [(key, event_id) for key in keys], job


def check_disk(directory: Path, events: int) -> None:
    """RuntimeError unless `directory` has 3x the estimated seeded size free."""
    estimate = events * EST_BYTES_PER_EVENT
    free = shutil.disk_usage(directory).free
    if free < 3 * estimate:
        raise RuntimeError(
            f"--scale needs about {3 * estimate / 1e9:.1f} GB free in {directory} "
            f"(3 x the estimated {estimate / 1e9:.1f} GB database of {events} events); "
            f"only {free / 1e9:.1f} GB is free. Use --scale-events to seed fewer."
        )


def seed(db_path: Path, events: int, pending: int, progress: Progress) -> SeedResult:
    """Fill receiver's migrated database at `db_path` with `events` events, their dedup keys
    and jobs, straight through sqlite3 in large transactions (synchronous=OFF, big cache,
    on this connection only)."""
    started = time.perf_counter()
    end = datetime.now(UTC) - timedelta(minutes=5)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")  # ~1 GB
        conn.execute("PRAGMA temp_store = MEMORY")
        source = _seed_rows(events, pending, end)
        written = 0
        while written < events:
            batch = [next(source) for _ in range(min(SEED_BATCH, events - written))]
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO inbound_events (id, source, type, account, external_id, status, "
                "transaction_id, transaction_set, direction, received_at, summary, headers, "
                "body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [event for event, _, _ in batch],
            )
            conn.executemany(
                "INSERT INTO inbound_dedup (key, event_id) VALUES (?, ?)",
                [key for _, keys, _ in batch for key in keys],
            )
            conn.executemany(
                "INSERT INTO jobs (id, event_id, kind, status, attempts, next_attempt_at, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [job for _, _, job in batch],
            )
            conn.execute("COMMIT")
            written += len(batch)
            if written % (SEED_BATCH * 4) == 0 or written == events:
                progress(f"scale: seeded {written}/{events} events")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return SeedResult(
        events=events,
        pending_jobs=pending,
        seconds=round(time.perf_counter() - started, 1),
        file_bytes=db_path.stat().st_size,
        end=end,
    )


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
        v.astimezone(UTC).strftime(_TS_FORMAT) if isinstance(v, datetime) else v for v in params
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
            run_cli(["migrate"], env)
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
