"""Intake on SQLite: record an inbound event with its job, read events back."""

from __future__ import annotations

import orjson

from receiver.ids import new_id
from receiver.models import (
    EventFilter,
    InboundEvent,
    JobStatus,
    Page,
    RecordResult,
    StoredEvent,
)
from receiver.store import rows
from receiver.store.base import check_limit, decode_cursor
from receiver.store.sqlite.base import SqliteBase, placeholder, to_text


class SqliteIntake(SqliteBase):
    """Intake on SQLite: record an inbound event with its job, read events back."""

    # -- intake --------------------------------------------------------------------------------
    async def record_inbound(self, event: InboundEvent, job_kind: str | None) -> RecordResult:
        """Event, dedup keys and job in one transaction; a known dedup key stores nothing."""
        if not event.dedup_keys:
            raise ValueError("an inbound event needs at least one dedup key")
        keys = list(event.dedup_keys)
        async with self._transaction() as conn:
            marks = ", ".join("?" for _ in keys)
            cur = await conn.execute(
                f"SELECT event_id FROM inbound_dedup WHERE key IN ({marks}) LIMIT 1",  # noqa: S608
                keys,
            )
            existing = await cur.fetchone()
            if existing is not None:
                return RecordResult(event_id=existing["event_id"], created=False)
            now = to_text(event.received_at)
            await conn.execute(
                "INSERT INTO inbound_events (id, source, type, account, external_id, status, "
                "transaction_id, transaction_set, direction, received_at, summary, headers, body) "
                "VALUES (?, ?, ?, ?, ?, 'received', ?, ?, ?, ?, ?, ?, ?)",
                (
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
                ),
            )
            await conn.executemany(
                "INSERT INTO inbound_dedup (key, event_id) VALUES (?, ?)",
                [(key, event.id) for key in dict.fromkeys(keys)],
            )
            if job_kind is not None:
                await conn.execute(
                    "INSERT INTO jobs (id, event_id, kind, status, attempts, next_attempt_at, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                    (new_id("job"), event.id, job_kind, JobStatus.PENDING.value, now, now, now),
                )
        return RecordResult(event_id=event.id, created=True)

    async def fetch_event(self, event_id: str, *, with_body: bool = True) -> StoredEvent | None:
        """One event by id."""
        columns = rows.EVENT_COLUMNS + (", body" if with_body else "")
        row = await self._fetchone(
            f"SELECT {columns} FROM inbound_events WHERE id = ?",  # noqa: S608
            (event_id,),
        )
        if row is None:
            return None
        return rows.event_from_row(row, bytes(row["body"]) if with_body else None)

    async def list_events(
        self, flt: EventFilter, *, limit: int, cursor: str | None
    ) -> Page[StoredEvent]:
        """Newest first, cursor on `seq`."""
        where, params = rows.event_conditions(flt, decode_cursor(cursor), placeholder)
        found = await self._fetchall(
            f"SELECT {rows.EVENT_COLUMNS} FROM inbound_events{where} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, rows.event_from_row)
