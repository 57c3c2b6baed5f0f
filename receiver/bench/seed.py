"""`receiver bench --scale` seeding: synthetic events, dedup keys and jobs, straight into SQLite."""

from __future__ import annotations

import base64
import random
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from receiver.bench.payloads import PADDING_FIELD, optum_body, stedi_body
from receiver.bench.setup import Progress
from receiver.intake.stedi import dedup_key, transaction_dedup_key

SEED_BODY_BYTES = 1024
SEED_DAYS = 90
SEED_BATCH = 50_000
# Bytes a seeded event takes on disk with its indexes, dedup keys and job (measured ~3.0 KB).
EST_BYTES_PER_EVENT = 3500

_STEDI_ACCOUNTS = (("bench", 0.40), ("acme", 0.30), ("globex", 0.20), ("initech", 0.08))
_STEDI_ACCOUNTS_TAIL = "umbrella"  # the remaining 2%: a small account
_OPTUM_TENANTS = (("tenant-a", 0.8),)
_OPTUM_TENANTS_TAIL = "tenant-b"
TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
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
        received = at.strftime(TS_FORMAT)
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
            keys = [
                dedup_key(account, "event", external),
                transaction_dedup_key(account, transaction_id, event_type),
            ]
            if event_type.startswith("file."):
                file_id = str(uuid.UUID(int=rng.getrandbits(128)))
                keys.append(dedup_key(account, "file", file_id, event_type))
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
        done_at = (at + timedelta(seconds=2)).strftime(TS_FORMAT)
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
