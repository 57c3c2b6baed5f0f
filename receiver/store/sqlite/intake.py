"""Intake on SQLite: record an inbound event with its job, read events back."""

from __future__ import annotations

import sqlite3
from functools import partial

import orjson

from receiver.ids import new_id
from receiver.models import (
    InboundEvent,
    JobStatus,
    RecordResult,
)
from receiver.store.event_reads import EventReads
from receiver.store.sqlite.base import SqliteBase, to_text


class SqliteIntake(SqliteBase, EventReads):
    """Intake on SQLite: record an inbound event with its job, read events back."""

    # -- intake --------------------------------------------------------------------------------
    async def record_inbound(self, event: InboundEvent, job_kind: str | None) -> RecordResult:
        """Event, dedup keys and job in one transaction; a known dedup key stores nothing.

        The transaction is shared with the other intake writes pending within the
        group-commit window, in arrival order, so a key stored earlier in the same batch is
        already known to the later ones (see `batch`: an item that fails fails alone)."""
        if not event.dedup_keys:
            raise ValueError("an inbound event needs at least one dedup key")
        now = to_text(event.received_at)
        event_row = (
            event.id,
            event.source.value,
            event.type,
            event.account,
            event.external_id,
            event.transaction_id,
            event.transaction_set,
            event.direction,
            now,
            orjson.dumps(event.summary).decode(),
            orjson.dumps(event.headers).decode(),
            event.body,
        )
        job_row = (
            None
            if job_kind is None
            else (new_id("job"), event.id, job_kind, JobStatus.PENDING.value, now, now, now)
        )
        return await self._write_grouped(
            partial(_insert_inbound, list(event.dedup_keys), event_row, job_row)
        )


def _insert_inbound(
    keys: list[str],
    event_row: tuple[object, ...],
    job_row: tuple[object, ...] | None,
    conn: sqlite3.Connection,
) -> RecordResult:
    """On the writer thread, inside the batch's transaction: the event, its keys, its job."""
    marks = ", ".join("?" for _ in keys)
    existing = conn.execute(
        f"SELECT event_id FROM inbound_dedup WHERE key IN ({marks}) LIMIT 1",  # noqa: S608
        keys,
    ).fetchone()
    if existing is not None:
        return RecordResult(event_id=existing[0], created=False)
    event_id = str(event_row[0])
    conn.execute(
        "INSERT INTO inbound_events (id, source, type, account, external_id, status, "
        "transaction_id, transaction_set, direction, received_at, summary, headers, body) "
        "VALUES (?, ?, ?, ?, ?, 'received', ?, ?, ?, ?, ?, ?, ?)",
        event_row,
    )
    conn.executemany(
        "INSERT INTO inbound_dedup (key, event_id) VALUES (?, ?)",
        [(key, event_id) for key in dict.fromkeys(keys)],
    )
    if job_row is not None:
        conn.execute(
            "INSERT INTO jobs (id, event_id, kind, status, attempts, next_attempt_at, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
            job_row,
        )
    return RecordResult(event_id=event_id, created=True)
