"""Intake on PostgreSQL: record an inbound event with its job, read events back."""

from __future__ import annotations

import orjson

from receiver.errors import StoreUnavailableError
from receiver.ids import new_id
from receiver.models import (
    InboundEvent,
    JobStatus,
    RecordResult,
)
from receiver.store.event_reads import EventReads
from receiver.store.postgres.base import Duplicate, PostgresBase


class PostgresIntake(PostgresBase, EventReads):
    """Intake on PostgreSQL: record an inbound event with its job, read events back."""

    # -- intake --------------------------------------------------------------------------------
    async def record_inbound(self, event: InboundEvent, job_kind: str | None) -> RecordResult:
        """Event, dedup keys and job in one transaction; a known dedup key stores nothing.

        A concurrent insert of the same key waits for the first transaction and then finds
        the key taken, so exactly one of several concurrent duplicates is created."""
        if not event.dedup_keys:
            raise ValueError("an inbound event needs at least one dedup key")
        # Sorted: concurrent events sharing keys take their row locks in the same order.
        keys = sorted(set(event.dedup_keys))
        try:
            async with self._transaction() as conn:
                await conn.execute(
                    "INSERT INTO inbound_events (id, source, type, account, external_id, status, "
                    "transaction_id, transaction_set, direction, received_at, summary, headers, "
                    "body) VALUES ($1, $2, $3, $4, $5, 'received', $6, $7, $8, $9, "
                    "$10::jsonb, $11::jsonb, $12)",
                    event.id,
                    event.source.value,
                    event.type,
                    event.account,
                    event.external_id,
                    event.transaction_id,
                    event.transaction_set,
                    event.direction,
                    event.received_at,
                    orjson.dumps(event.summary).decode(),
                    orjson.dumps(event.headers).decode(),
                    event.body,
                )
                inserted = await conn.fetch(
                    "INSERT INTO inbound_dedup (key, event_id) "
                    "SELECT key, $2 FROM unnest($1::text[]) AS key "
                    "ON CONFLICT (key) DO NOTHING RETURNING key",
                    keys,
                    event.id,
                )
                if len(inserted) != len(keys):
                    raise Duplicate
                if job_kind is not None:
                    await conn.execute(
                        "INSERT INTO jobs (id, event_id, kind, status, attempts, "
                        "next_attempt_at, created_at, updated_at) "
                        "VALUES ($1, $2, $3, $4, 0, $5, $5, $5)",
                        new_id("job"),
                        event.id,
                        job_kind,
                        JobStatus.PENDING.value,
                        event.received_at,
                    )
                    # Delivered at commit: wakes workers in other processes (LISTEN).
                    await conn.execute("SELECT pg_notify($1, '')", self.channel("jobs"))
        except Duplicate:
            row = await self._fetchrow(
                "SELECT event_id FROM inbound_dedup WHERE key = ANY($1::text[]) LIMIT 1", keys
            )
            if row is None:  # the conflicting key vanished: cannot happen without deletes
                raise StoreUnavailableError("dedup key conflict could not be resolved") from None
            return RecordResult(event_id=row["event_id"], created=False)
        return RecordResult(event_id=event.id, created=True)
