"""PostgresBase: pool, transactions, migrations and plumbing for the PostgreSQL store."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from receiver.errors import ConflictError, StoreUnavailableError
from receiver.store.migrations import load_migrations, split_statements
from receiver.store.sql import SqlCalls, Statement, numbered

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


class Duplicate(Exception):
    """Raised inside the intake transaction to roll it back when a dedup key is taken."""


def rowcount(status: str) -> int:
    """The row count from a command status such as `UPDATE 1` or `DELETE 0`."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


async def run_statements(conn: Any, statements: Sequence[Statement]) -> bool:
    """Run a write's statements in order on `conn` (in its transaction); False, with the rest
    left unrun, as soon as a guard changes no row (guards come first)."""
    for statement in statements:
        count = rowcount(await conn.execute(numbered(statement.sql), *statement.params))
        if statement.guard and count == 0:
            return False
    return True


class PostgresBase(SqlCalls):
    """The Store protocol on PostgreSQL, optionally confined to one schema."""

    migrated_at_open: list[str] = []  # replaced by open(), never mutated

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
            self.migrated_at_open = await self.migrate()
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

    def channel(self, topic: str) -> str:
        """The NOTIFY channel for `topic` ("jobs" or "deliveries") of this store's schema."""
        return f"receiver_{self.schema or 'public'}_{topic}"

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

    async def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        """Every row of one `?`-style read (SQL written once for both adapters)."""
        return await self._fetch(numbered(sql), *params)

    async def _write(self, sql: str, params: Sequence[object] = ()) -> int:
        """One `?`-style statement in its own transaction; the rows it changed."""
        return await self._execute(numbered(sql), *params)

    async def _run(self, statements: Sequence[Statement], *, wake: str | None = None) -> bool:
        """In one transaction; the NOTIFY for `wake` goes out with the commit."""
        async with self._transaction() as conn:
            done = await run_statements(conn, statements)
            if done and wake is not None:
                await conn.execute("SELECT pg_notify($1, '')", self.channel(wake))
            return done

    async def _fetchrow(self, sql: str, *params: object) -> Any:
        async with self._connection() as conn:
            return await conn.fetchrow(sql, *params)

    async def _execute(self, sql: str, *params: object) -> int:
        """Run one statement in its own transaction; return the affected row count."""
        async with self._connection() as conn:
            status: str = await conn.execute(sql, *params)
            return rowcount(status)
