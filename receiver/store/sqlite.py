"""SqliteStore: the embedded default Store on one SQLite file (WAL, synchronous=FULL).

One writer connection, serialised by a lock (SQLite has one writer anyway), and one reader
connection, which WAL lets run beside the writer. Every sqlite3 error becomes
StoreUnavailableError here, so callers answer 503 and senders retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import orjson

from receiver.errors import ConflictError, NotFoundError, StoreUnavailableError
from receiver.ids import new_id
from receiver.models import (
    Account,
    Client,
    Document,
    EventFilter,
    EventStatus,
    InboundEvent,
    Job,
    JobFilter,
    JobResult,
    JobStatus,
    OutboundMessage,
    Page,
    RecordResult,
    StoredEvent,
    TimelineEntry,
)
from receiver.store import rows
from receiver.store.base import check_limit, decode_cursor, truncate_error
from receiver.store.migrations import load_migrations, split_statements

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TS_COLUMNS = frozenset(
    {
        "received_at",
        "next_attempt_at",
        "lease_until",
        "created_at",
        "updated_at",
        "previous_expires_at",
        "revoked_at",
    }
)


def to_text(value: datetime) -> str:
    """A fixed-width UTC timestamp that sorts as text."""
    return value.astimezone(UTC).strftime(_TS_FORMAT)


def _param(value: object) -> object:
    return to_text(value) if isinstance(value, datetime) else value


def _row(cursor: sqlite3.Cursor, raw: tuple[Any, ...]) -> dict[str, Any]:
    """Row factory: a dict with timestamp columns parsed back to aware datetimes."""
    out: dict[str, Any] = {}
    for (name, *_), value in zip(cursor.description, raw, strict=True):
        if name in _TS_COLUMNS and isinstance(value, str):
            value = datetime.strptime(value, _TS_FORMAT).replace(tzinfo=UTC)
        out[name] = value
    return out


def _placeholder(_: int) -> str:
    return "?"


class SqliteStore:
    """The Store protocol on a local SQLite file."""

    def __init__(
        self, path: Path | str, *, busy_timeout_ms: int = 5000, synchronous: str = "FULL"
    ) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    # -- life cycle ----------------------------------------------------------------------------
    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = _row  # type: ignore[assignment]
        await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        await conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        await conn.execute("PRAGMA foreign_keys = ON")
        return conn

    async def open(self) -> None:
        """Create the file if needed, switch to WAL, apply migrations."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The file holds PHI and secrets: owner-only from its first byte. SQLite gives the
            # -wal and -shm files the database file's mode.
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            self._writer = await self._connect()
            await self._writer.execute("PRAGMA journal_mode = WAL")
            await self.migrate()
            self._reader = await self._connect()
        except (sqlite3.Error, OSError, StoreUnavailableError) as exc:
            # Close what was opened: a live aiosqlite thread would keep the process from exiting.
            await self.close()
            raise StoreUnavailableError(f"cannot open SQLite database {self.path}: {exc}") from exc

    async def close(self) -> None:
        """Close both connections (waiting for a write in progress)."""
        async with self._write_lock:
            for conn in (self._reader, self._writer):
                if conn is not None:
                    await conn.close()
            self._reader = self._writer = None

    async def ping(self) -> None:
        """A trivial read through the reader connection."""
        async with self._read() as conn:
            await conn.execute("SELECT 1")

    async def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded in `schema_migrations`."""
        async with self._transaction() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            cur = await conn.execute("SELECT version FROM schema_migrations")
            done = {row["version"] for row in await cur.fetchall()}
            applied = []
            for name, sql in load_migrations("sqlite"):
                if name in done:
                    continue
                for statement in split_statements(sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (name, to_text(datetime.now(UTC))),
                )
                applied.append(name)
            return applied

    # -- plumbing ------------------------------------------------------------------------------
    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT on the writer; rollback and 503 on any sqlite3 error."""
        async with self._write_lock:
            conn = self._writer
            if conn is None:
                raise StoreUnavailableError("store is not open")
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreUnavailableError(f"cannot begin a write: {exc}") from exc
            try:
                yield conn
                await conn.execute("COMMIT")
            except BaseException as exc:
                # The transaction may already be gone; the original error is the news.
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.IntegrityError):
                    raise ConflictError(str(exc)) from exc
                if isinstance(exc, sqlite3.Error):
                    raise StoreUnavailableError(f"write failed: {exc}") from exc
                raise

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = self._reader
        if conn is None:
            raise StoreUnavailableError("store is not open")
        try:
            yield conn
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"read failed: {exc}") from exc

    async def _fetchall(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        async with self._read() as conn:
            cur = await conn.execute(sql, [_param(p) for p in params])
            return list(await cur.fetchall())  # type: ignore[arg-type]

    async def _fetchone(self, sql: str, params: Sequence[object] = ()) -> dict[str, Any] | None:
        found = await self._fetchall(sql, params)
        return found[0] if found else None

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
        where, params = rows.event_conditions(flt, decode_cursor(cursor), _placeholder)
        found = await self._fetchall(
            f"SELECT {rows.EVENT_COLUMNS} FROM inbound_events{where} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, rows.event_from_row)

    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None) -> Page[Job]:
        """Newest first, cursor on `seq`."""
        where, params = rows.job_conditions(flt, decode_cursor(cursor), _placeholder)
        found = await self._fetchall(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs{where} ORDER BY seq DESC LIMIT ?",  # noqa: S608
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, rows.job_from_row)

    # -- job queue -----------------------------------------------------------------------------
    async def claim_due_jobs(
        self,
        *,
        now: datetime,
        lease_seconds: int,
        limit: int,
        kinds: tuple[str, ...] | None = None,
    ) -> list[Job]:
        """Select the due ids and lease them inside one BEGIN IMMEDIATE transaction."""
        if limit < 1:
            return []
        now_text = to_text(now)
        lease_text = to_text(now + timedelta(seconds=lease_seconds))
        params: list[object] = [
            JobStatus.PENDING.value,
            now_text,
            JobStatus.RUNNING.value,
            now_text,
        ]
        kind_clause = ""
        if kinds is not None:
            if not kinds:
                return []
            kind_clause = f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params.extend(kinds)
        async with self._transaction() as conn:
            cur = await conn.execute(
                "SELECT id FROM jobs WHERE ((status = ? AND next_attempt_at <= ?) "  # noqa: S608
                f"OR (status = ? AND lease_until < ?)){kind_clause} "
                "ORDER BY next_attempt_at, seq LIMIT ?",
                [*params, limit],
            )
            ids = [row["id"] for row in await cur.fetchall()]
            if not ids:
                return []
            marks = ", ".join("?" for _ in ids)
            await conn.execute(
                "UPDATE jobs SET status = ?, lease_until = ?, updated_at = ? "  # noqa: S608
                f"WHERE id IN ({marks})",
                [JobStatus.RUNNING.value, lease_text, now_text, *ids],
            )
            cur = await conn.execute(
                f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE id IN ({marks}) "  # noqa: S608
                "ORDER BY next_attempt_at, seq",
                ids,
            )
            claimed: list[dict[str, Any]] = list(await cur.fetchall())  # type: ignore[arg-type]
            return [rows.job_from_row(row) for row in claimed]

    async def _finish_job(
        self,
        job_id: str,
        lease_until: datetime,
        assignments: str,
        params: Sequence[object],
        event_status: EventStatus | None,
        result: JobResult | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Apply `assignments` to a job still running under exactly `lease_until`, set its
        event's status and store `result` (stamped `now`), in one transaction."""
        async with self._transaction() as conn:
            cur = await conn.execute(
                f"UPDATE jobs SET {assignments} "  # noqa: S608
                "WHERE id = ? AND status = ? AND lease_until = ?",
                [
                    *(_param(p) for p in params),
                    job_id,
                    JobStatus.RUNNING.value,
                    to_text(lease_until),
                ],
            )
            if cur.rowcount == 0:
                return False
            if event_status is not None:
                await conn.execute(
                    "UPDATE inbound_events SET status = ? "
                    "WHERE id = (SELECT event_id FROM jobs WHERE id = ?)",
                    (event_status.value, job_id),
                )
            if result is not None and now is not None:
                cur = await conn.execute("SELECT event_id FROM jobs WHERE id = ?", (job_id,))
                found = await cur.fetchone()
                if found is None:  # the UPDATE above matched it: cannot happen
                    raise StoreUnavailableError(f"job {job_id} vanished mid-transaction")
                await _store_result(conn, result, found["event_id"], now)
            return True

    async def complete_job(
        self,
        job_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        result: JobResult | None = None,
    ) -> bool:
        """Done, attempts + 1, event processed, `result` stored; guarded by the lease."""
        return await self._finish_job(
            job_id,
            lease_until,
            "status = ?, attempts = attempts + 1, lease_until = NULL, last_error = NULL, "
            "updated_at = ?",
            (JobStatus.DONE.value, now),
            EventStatus.PROCESSED,
            result,
            now,
        )

    async def fetch_documents(self, event_id: str) -> list[Document]:
        """By kind."""
        found = await self._fetchall(
            f"SELECT {rows.DOCUMENT_COLUMNS} FROM documents "  # noqa: S608
            "WHERE event_id = ? ORDER BY kind",
            (event_id,),
        )
        return [rows.document_from_row(row) for row in found]

    async def claim_timeline(self, patient_control_number: str) -> list[TimelineEntry]:
        """Oldest event first, then insertion order."""
        found = await self._fetchall(
            f"SELECT {rows.TIMELINE_COLUMNS} FROM claim_entries c "  # noqa: S608
            "JOIN inbound_events e ON e.id = c.event_id "
            "WHERE c.patient_control_number = ? ORDER BY e.received_at, c.seq",
            (patient_control_number,),
        )
        return [rows.timeline_from_row(row) for row in found]

    async def list_messages(self, *, limit: int, cursor: str | None) -> Page[OutboundMessage]:
        """Newest first, cursor on `seq`."""
        where, params = rows.where_clause([("seq < {}", decode_cursor(cursor))], _placeholder)
        found = await self._fetchall(
            f"SELECT {rows.MESSAGE_COLUMNS} FROM outbound_messages{where} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, rows.message_from_row)

    async def retry_job(
        self,
        job_id: str,
        *,
        now: datetime,
        lease_until: datetime,
        next_attempt_at: datetime,
        error: str,
    ) -> bool:
        """Pending again at `next_attempt_at`, attempts + 1; guarded by the lease."""
        return await self._finish_job(
            job_id,
            lease_until,
            "status = ?, attempts = attempts + 1, lease_until = NULL, last_error = ?, "
            "next_attempt_at = ?, updated_at = ?",
            (JobStatus.PENDING.value, truncate_error(error), next_attempt_at, now),
            None,
        )

    async def kill_job(
        self, job_id: str, *, now: datetime, lease_until: datetime, error: str
    ) -> bool:
        """Dead, attempts + 1, event failed; guarded by the lease."""
        return await self._finish_job(
            job_id,
            lease_until,
            "status = ?, attempts = attempts + 1, lease_until = NULL, last_error = ?, "
            "updated_at = ?",
            (JobStatus.DEAD.value, truncate_error(error), now),
            EventStatus.FAILED,
        )

    async def count_jobs_by_status(self) -> dict[str, int]:
        """One GROUP BY over the jobs table."""
        found = await self._fetchall("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: row["n"] for row in found}

    async def revive_job(self, job_id: str, *, now: datetime) -> bool:
        """Dead -> pending, due now."""
        async with self._transaction() as conn:
            cur = await conn.execute(
                "UPDATE jobs SET status = ?, next_attempt_at = ?, lease_until = NULL, "
                "updated_at = ? WHERE id = ? AND status = ?",
                (
                    JobStatus.PENDING.value,
                    to_text(now),
                    to_text(now),
                    job_id,
                    JobStatus.DEAD.value,
                ),
            )
            return cur.rowcount > 0

    # -- clients -------------------------------------------------------------------------------
    async def add_client(self, client: Client) -> None:
        """Insert; ConflictError on a taken name or id."""
        try:
            async with self._transaction() as conn:
                await conn.execute(
                    f"INSERT INTO clients ({rows.CLIENT_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    _client_params(client),
                )
        except ConflictError:
            raise ConflictError(f"a client named {client.name!r} already exists") from None

    async def fetch_client(self, client_id: str) -> Client | None:
        """By client_id."""
        row = await self._fetchone(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients WHERE client_id = ?",  # noqa: S608
            (client_id,),
        )
        return rows.client_from_row(row) if row else None

    async def fetch_client_by_name(self, name: str) -> Client | None:
        """By local name."""
        row = await self._fetchone(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients WHERE name = ?",  # noqa: S608
            (name,),
        )
        return rows.client_from_row(row) if row else None

    async def list_clients(self) -> list[Client]:
        """Oldest first."""
        found = await self._fetchall(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients ORDER BY created_at, name"  # noqa: S608
        )
        return [rows.client_from_row(row) for row in found]

    async def update_client(self, client: Client) -> None:
        """Replace by client_id."""
        async with self._transaction() as conn:
            cur = await conn.execute(
                "UPDATE clients SET name = ?, scopes = ?, secret_hash = ?, "
                "previous_secret_hash = ?, previous_expires_at = ?, created_at = ?, "
                "revoked_at = ? WHERE client_id = ?",
                (*_client_params(client)[1:], client.client_id),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"no client {client.client_id}")

    # -- accounts ------------------------------------------------------------------------------
    async def add_account(self, account: Account) -> None:
        """Insert; ConflictError on a taken name."""
        try:
            async with self._transaction() as conn:
                await conn.execute(
                    f"INSERT INTO accounts ({rows.ACCOUNT_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?)",
                    _account_params(account),
                )
        except ConflictError:
            raise ConflictError(f"an account named {account.name!r} already exists") from None

    async def fetch_account(self, name: str) -> Account | None:
        """By local name."""
        row = await self._fetchone(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE name = ?",  # noqa: S608
            (name,),
        )
        return rows.account_from_row(row) if row else None

    async def list_accounts(self) -> list[Account]:
        """By name."""
        found = await self._fetchall(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts ORDER BY name"  # noqa: S608
        )
        return [rows.account_from_row(row) for row in found]

    async def update_account(self, account: Account) -> None:
        """Replace by name."""
        async with self._transaction() as conn:
            cur = await conn.execute(
                "UPDATE accounts SET stedi_account_id = ?, credentials = ?, api_key = ?, "
                "created_at = ? WHERE name = ?",
                (*_account_params(account)[1:], account.name),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"no account named {account.name!r}")

    async def remove_account(self, name: str) -> bool:
        """Delete by name."""
        async with self._transaction() as conn:
            cur = await conn.execute("DELETE FROM accounts WHERE name = ?", (name,))
            return cur.rowcount > 0

    # -- poll cursors --------------------------------------------------------------------------
    async def fetch_poll_cursor(self, name: str) -> str | None:
        """The stored value, or None."""
        row = await self._fetchone("SELECT value FROM poll_cursors WHERE name = ?", (name,))
        return str(row["value"]) if row else None

    async def save_poll_cursor(self, name: str, value: str, now: datetime) -> None:
        """Upsert by name."""
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO poll_cursors (name, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (name, value, to_text(now)),
            )


async def _store_result(
    conn: aiosqlite.Connection, result: JobResult, event_id: str, now: datetime
) -> None:
    """Insert a job result's rows, leaving any already stored by an earlier run."""
    if result.documents:
        await conn.executemany(
            "INSERT INTO documents (event_id, kind, transaction_id, content_type, body, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [tuple(_param(v) for v in p) for p in rows.document_params(result, event_id, now)],
        )
    if result.claims:
        await conn.executemany(
            "INSERT INTO claim_entries (event_id, ordinal, patient_control_number, kind, data, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [tuple(_param(v) for v in p) for p in rows.claim_params(result, event_id, now)],
        )
    if result.messages:
        await conn.executemany(
            "INSERT INTO outbound_messages (id, event_id, type, account, data, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [tuple(_param(v) for v in p) for p in rows.message_params(result, event_id)],
        )


def _client_params(client: Client) -> tuple[object, ...]:
    return tuple(_param(v) for v in rows.client_params(client))


def _account_params(account: Account) -> tuple[object, ...]:
    return tuple(_param(v) for v in rows.account_params(account))
