"""PostgresStore: the Store protocol on PostgreSQL through an asyncpg connection pool."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
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

# pg_advisory_xact_lock key serialising migrations across replicas ("rcvrmigr" as ASCII).
_MIGRATION_LOCK = 0x726376726D696772
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Errors meaning "the store cannot be reached or written": answer 503, let senders retry.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    asyncio.TimeoutError,
)


class _Duplicate(Exception):
    """Raised inside the intake transaction to roll it back when a dedup key is taken."""


def _placeholder(i: int) -> str:
    return f"${i}"


def _rowcount(status: str) -> int:
    """The row count from a command status such as `UPDATE 1` or `DELETE 0`."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


class PostgresStore:
    """The Store protocol on PostgreSQL, optionally confined to one schema."""

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
        self.dsn = dsn
        self.schema = schema
        self._min_size = min_size
        self._max_size = max_size
        self._pool: Any = None

    # -- life cycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the connection pool (search_path set to `schema`), apply migrations."""
        settings = {"search_path": self.schema} if self.schema else None
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                server_settings=settings,
            )
            await self.migrate()
        except StoreUnavailableError:
            await self.close()
            raise
        except _UNAVAILABLE as exc:
            await self.close()
            raise StoreUnavailableError(f"cannot open PostgreSQL store: {exc}") from exc

    async def close(self) -> None:
        """Close the pool, waiting for connections in use to be released."""
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await pool.close()
            except _UNAVAILABLE:
                pool.terminate()

    async def drop_schema(self) -> None:
        """Drop this store's schema and everything in it (tests; call after `close`)."""
        if self.schema is None:
            return
        try:
            conn = await asyncpg.connect(self.dsn)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            finally:
                await conn.close()
        except _UNAVAILABLE as exc:
            raise StoreUnavailableError(f"cannot drop schema {self.schema}: {exc}") from exc

    async def ping(self) -> None:
        """A trivial query through the pool."""
        async with self._connection() as conn:
            await conn.fetchval("SELECT 1")

    async def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded in `schema_migrations`, under an advisory
        lock so replicas starting together apply each migration once."""
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            if self.schema is not None:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
            )
            done = {
                row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")
            }
            applied = []
            for name, sql in load_migrations("postgres"):
                if name in done:
                    continue
                for statement in split_statements(sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    name,
                    datetime.now(UTC),
                )
                applied.append(name)
            return applied

    # -- plumbing ------------------------------------------------------------------------------
    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection; driver and network errors become StoreUnavailableError."""
        pool = self._pool
        if pool is None:
            raise StoreUnavailableError("store is not open")
        try:
            async with pool.acquire() as conn:
                yield conn
        except asyncpg.UniqueViolationError as exc:
            raise ConflictError(str(exc)) from exc
        except _UNAVAILABLE as exc:
            raise StoreUnavailableError(f"PostgreSQL request failed: {exc}") from exc

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        """A pooled connection inside BEGIN ... COMMIT (rolled back on any exception)."""
        async with self._connection() as conn, conn.transaction():
            yield conn

    async def _fetch(self, sql: str, *params: object) -> list[Any]:
        async with self._connection() as conn:
            return list(await conn.fetch(sql, *params))

    async def _fetchrow(self, sql: str, *params: object) -> Any:
        async with self._connection() as conn:
            return await conn.fetchrow(sql, *params)

    async def _execute(self, sql: str, *params: object) -> int:
        """Run one statement in its own transaction; return the affected row count."""
        async with self._connection() as conn:
            status: str = await conn.execute(sql, *params)
            return _rowcount(status)

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
                    raise _Duplicate
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
        except _Duplicate:
            row = await self._fetchrow(
                "SELECT event_id FROM inbound_dedup WHERE key = ANY($1::text[]) LIMIT 1", keys
            )
            if row is None:  # the conflicting key vanished: cannot happen without deletes
                raise StoreUnavailableError("dedup key conflict could not be resolved") from None
            return RecordResult(event_id=row["event_id"], created=False)
        return RecordResult(event_id=event.id, created=True)

    async def fetch_event(self, event_id: str, *, with_body: bool = True) -> StoredEvent | None:
        """One event by id."""
        columns = rows.EVENT_COLUMNS + (", body" if with_body else "")
        row = await self._fetchrow(
            f"SELECT {columns} FROM inbound_events WHERE id = $1",  # noqa: S608
            event_id,
        )
        if row is None:
            return None
        return rows.event_from_row(row, bytes(row["body"]) if with_body else None)

    async def list_events(
        self, flt: EventFilter, *, limit: int, cursor: str | None
    ) -> Page[StoredEvent]:
        """Newest first, cursor on `seq`."""
        where, params = rows.event_conditions(flt, decode_cursor(cursor), _placeholder)
        found = await self._fetch(
            f"SELECT {rows.EVENT_COLUMNS} FROM inbound_events{where} "  # noqa: S608
            f"ORDER BY seq DESC LIMIT {_placeholder(len(params) + 1)}",
            *params,
            check_limit(limit) + 1,
        )
        return rows.page_of(found, limit, rows.event_from_row)

    async def list_jobs(self, flt: JobFilter, *, limit: int, cursor: str | None) -> Page[Job]:
        """Newest first, cursor on `seq`."""
        where, params = rows.job_conditions(flt, decode_cursor(cursor), _placeholder)
        found = await self._fetch(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs{where} "  # noqa: S608
            f"ORDER BY seq DESC LIMIT {_placeholder(len(params) + 1)}",
            *params,
            check_limit(limit) + 1,
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
        """One UPDATE over a FOR UPDATE SKIP LOCKED sub-select: concurrent claimers skip
        each other's rows instead of waiting for them or taking them twice."""
        if limit < 1 or (kinds is not None and not kinds):
            return []
        kind_clause = " AND kind = ANY($6::text[])" if kinds is not None else ""
        params: list[object] = [
            JobStatus.RUNNING.value,
            now + timedelta(seconds=lease_seconds),
            now,
            JobStatus.PENDING.value,
            limit,
        ]
        if kinds is not None:
            params.append(list(kinds))
        found = await self._fetch(
            "UPDATE jobs SET status = $1, lease_until = $2, updated_at = $3 "  # noqa: S608
            "WHERE id IN (SELECT id FROM jobs "
            "WHERE ((status = $4 AND next_attempt_at <= $3) "
            f"OR (status = $1 AND lease_until < $3)){kind_clause} "
            "ORDER BY next_attempt_at, seq LIMIT $5 FOR UPDATE SKIP LOCKED) "
            f"RETURNING {rows.JOB_COLUMNS}",
            *params,
        )
        jobs = [rows.job_from_row(row) for row in found]
        jobs.sort(key=lambda job: job.next_attempt_at)
        return jobs

    async def _finish_job(
        self,
        job_id: str,
        lease_until: datetime,
        assignments: str,
        params: tuple[object, ...],
        event_status: EventStatus | None,
        result: JobResult | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Apply `assignments` (placeholders from $4 on) to a job still running under
        exactly `lease_until`, set its event's status and store `result` (stamped `now`),
        in one transaction."""
        async with self._transaction() as conn:
            event_id = await conn.fetchval(
                f"UPDATE jobs SET {assignments} "  # noqa: S608
                "WHERE id = $1 AND status = $2 AND lease_until = $3 RETURNING event_id",
                job_id,
                JobStatus.RUNNING.value,
                lease_until,
                *params,
            )
            if event_id is None:
                return False
            if event_status is not None:
                await conn.execute(
                    "UPDATE inbound_events SET status = $1 WHERE id = $2",
                    event_status.value,
                    event_id,
                )
            if result is not None and now is not None:
                await _store_result(conn, result, event_id, now)
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
            "status = $4, attempts = attempts + 1, lease_until = NULL, last_error = NULL, "
            "updated_at = $5",
            (JobStatus.DONE.value, now),
            EventStatus.PROCESSED,
            result,
            now,
        )

    async def fetch_documents(self, event_id: str) -> list[Document]:
        """By kind."""
        found = await self._fetch(
            f"SELECT {rows.DOCUMENT_COLUMNS} FROM documents "  # noqa: S608
            "WHERE event_id = $1 ORDER BY kind",
            event_id,
        )
        return [rows.document_from_row(row) for row in found]

    async def claim_timeline(self, patient_control_number: str) -> list[TimelineEntry]:
        """Oldest event first, then insertion order."""
        found = await self._fetch(
            f"SELECT {rows.TIMELINE_COLUMNS} FROM claim_entries c "  # noqa: S608
            "JOIN inbound_events e ON e.id = c.event_id "
            "WHERE c.patient_control_number = $1 ORDER BY e.received_at, c.seq",
            patient_control_number,
        )
        return [rows.timeline_from_row(row) for row in found]

    async def list_messages(self, *, limit: int, cursor: str | None) -> Page[OutboundMessage]:
        """Newest first, cursor on `seq`."""
        where, params = rows.where_clause([("seq < {}", decode_cursor(cursor))], _placeholder)
        found = await self._fetch(
            f"SELECT {rows.MESSAGE_COLUMNS} FROM outbound_messages{where} "  # noqa: S608
            f"ORDER BY seq DESC LIMIT {_placeholder(len(params) + 1)}",
            *params,
            check_limit(limit) + 1,
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
            "status = $4, attempts = attempts + 1, lease_until = NULL, last_error = $5, "
            "next_attempt_at = $6, updated_at = $7",
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
            "status = $4, attempts = attempts + 1, lease_until = NULL, last_error = $5, "
            "updated_at = $6",
            (JobStatus.DEAD.value, truncate_error(error), now),
            EventStatus.FAILED,
        )

    async def count_jobs_by_status(self) -> dict[str, int]:
        """One GROUP BY over the jobs table."""
        found = await self._fetch("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: int(row["n"]) for row in found}

    async def revive_job(self, job_id: str, *, now: datetime) -> bool:
        """Dead -> pending, due now."""
        count = await self._execute(
            "UPDATE jobs SET status = $1, next_attempt_at = $2, lease_until = NULL, "
            "updated_at = $2 WHERE id = $3 AND status = $4",
            JobStatus.PENDING.value,
            now,
            job_id,
            JobStatus.DEAD.value,
        )
        return count > 0

    # -- clients -------------------------------------------------------------------------------
    async def add_client(self, client: Client) -> None:
        """Insert; ConflictError on a taken name or id."""
        try:
            await self._execute(
                f"INSERT INTO clients ({rows.CLIENT_COLUMNS}) "  # noqa: S608
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                *rows.client_params(client),
            )
        except ConflictError:
            raise ConflictError(f"a client named {client.name!r} already exists") from None

    async def fetch_client(self, client_id: str) -> Client | None:
        """By client_id."""
        row = await self._fetchrow(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients WHERE client_id = $1",  # noqa: S608
            client_id,
        )
        return rows.client_from_row(row) if row else None

    async def fetch_client_by_name(self, name: str) -> Client | None:
        """By local name."""
        row = await self._fetchrow(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients WHERE name = $1",  # noqa: S608
            name,
        )
        return rows.client_from_row(row) if row else None

    async def list_clients(self) -> list[Client]:
        """Oldest first."""
        found = await self._fetch(
            f"SELECT {rows.CLIENT_COLUMNS} FROM clients ORDER BY created_at, name"  # noqa: S608
        )
        return [rows.client_from_row(row) for row in found]

    async def update_client(self, client: Client) -> None:
        """Replace by client_id."""
        try:
            count = await self._execute(
                "UPDATE clients SET name = $1, scopes = $2, secret_hash = $3, "
                "previous_secret_hash = $4, previous_expires_at = $5, created_at = $6, "
                "revoked_at = $7 WHERE client_id = $8",
                *rows.client_params(client)[1:],
                client.client_id,
            )
        except ConflictError:
            raise ConflictError(f"a client named {client.name!r} already exists") from None
        if count == 0:
            raise NotFoundError(f"no client {client.client_id}")

    # -- accounts ------------------------------------------------------------------------------
    async def add_account(self, account: Account) -> None:
        """Insert; ConflictError on a taken name."""
        try:
            await self._execute(
                f"INSERT INTO accounts ({rows.ACCOUNT_COLUMNS}) "  # noqa: S608
                "VALUES ($1, $2, $3, $4, $5)",
                *rows.account_params(account),
            )
        except ConflictError:
            raise ConflictError(f"an account named {account.name!r} already exists") from None

    async def fetch_account(self, name: str) -> Account | None:
        """By local name."""
        row = await self._fetchrow(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE name = $1",  # noqa: S608
            name,
        )
        return rows.account_from_row(row) if row else None

    async def list_accounts(self) -> list[Account]:
        """By name."""
        found = await self._fetch(
            f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts ORDER BY name"  # noqa: S608
        )
        return [rows.account_from_row(row) for row in found]

    async def update_account(self, account: Account) -> None:
        """Replace by name."""
        count = await self._execute(
            "UPDATE accounts SET stedi_account_id = $1, credentials = $2, api_key = $3, "
            "created_at = $4 WHERE name = $5",
            *rows.account_params(account)[1:],
            account.name,
        )
        if count == 0:
            raise NotFoundError(f"no account named {account.name!r}")

    async def remove_account(self, name: str) -> bool:
        """Delete by name."""
        return await self._execute("DELETE FROM accounts WHERE name = $1", name) > 0

    # -- poll cursors --------------------------------------------------------------------------
    async def fetch_poll_cursor(self, name: str) -> str | None:
        """The stored value, or None."""
        row = await self._fetchrow("SELECT value FROM poll_cursors WHERE name = $1", name)
        return str(row["value"]) if row else None

    async def save_poll_cursor(self, name: str, value: str, now: datetime) -> None:
        """Upsert by name."""
        await self._execute(
            "INSERT INTO poll_cursors (name, value, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, "
            "updated_at = EXCLUDED.updated_at",
            name,
            value,
            now,
        )


async def _store_result(conn: Any, result: JobResult, event_id: str, now: datetime) -> None:
    """Insert a job result's rows, leaving any already stored by an earlier run."""
    if result.documents:
        await conn.executemany(
            "INSERT INTO documents (event_id, kind, transaction_id, content_type, body, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            rows.document_params(result, event_id, now),
        )
    if result.claims:
        await conn.executemany(
            "INSERT INTO claim_entries (event_id, ordinal, patient_control_number, kind, data, "
            "created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT DO NOTHING",
            rows.claim_params(result, event_id, now),
        )
    if result.messages:
        await conn.executemany(
            "INSERT INTO outbound_messages (id, event_id, type, account, data, created_at) "
            "VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT DO NOTHING",
            rows.message_params(result, event_id),
        )
