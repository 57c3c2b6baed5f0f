"""SqliteBase: connections, transactions, migrations and plumbing for the SQLite store.

One writer connection, serialised by a lock (SQLite has one writer anyway), and one reader
connection, which WAL lets run beside the writer. Every sqlite3 error becomes
StoreUnavailableError here, so callers answer 503 and senders retry.

Every read on the shared reader runs to its last row in one job on the connection's thread,
so no statement is left unfinished between jobs: SQLite keeps a connection's read
transaction (and its snapshot) open while any statement on it is unfinished, and a statement
left stepping across jobs made every other caller's read see that older snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from receiver.errors import ConflictError, StoreUnavailableError
from receiver.store.migrations import load_migrations, split_statements
from receiver.store.sql import SqlCalls, Statement
from receiver.store.sqlite.batch import GroupCommitStats, GroupCommitter

T = TypeVar("T")

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
        "failing_since",
        "started_at",
        "m_created_at",
    }
)


# Each PASSIVE checkpoint copies every page written since the last and then fsyncs the
# database file: a page written again and again (an index's right edge) is copied once a
# round. Intake alone, 20,000 requests, four rounds alternating: every 0.5 s 2,302 req/s and
# a p99 of 28.6 ms on average, every 5 s 2,474 and 26.2, every 2 s (two rounds) 2,722 and 24.6.
CHECKPOINT_SECONDS = 2.0
# WAL frames (pages) beyond which a checkpoint holds writes back until it has copied them all:
# 1 GiB of 4 KiB pages, about 50,000 events at the bench's 20 KB of WAL per event. That pass
# ends in an fsync of the database file, 50-700 ms on a 3 GB file here: done every 1000 frames
# it made the intake p99 63 ms on a 1,000,000-event database (20 ms without), so it is kept
# for a WAL that has grown large.
WAL_LIMIT_FRAMES = 262_144
# When a write starts the WAL over, SQLite cuts the file back to this size.
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
_log = structlog.get_logger("receiver.store")


def to_text(value: datetime) -> str:
    """A fixed-width UTC timestamp that sorts as text: `2026-12-04T20:42:02.107117Z`.

    The `_TS_FORMAT` text, from isoformat (1.3 us against strftime's 3.2 us here; a job and
    its delivery write about a dozen of them on the writer thread)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:26] + "Z"


def param(value: object) -> object:
    return to_text(value) if isinstance(value, datetime) else value


def row_factory(cursor: sqlite3.Cursor, raw: tuple[Any, ...]) -> dict[str, Any]:
    """Row factory: a dict with timestamp columns parsed back to aware datetimes."""
    out: dict[str, Any] = {}
    for (name, *_), value in zip(cursor.description, raw, strict=True):
        if name in _TS_COLUMNS and isinstance(value, str):
            value = from_text(value)
        out[name] = value
    return out


def from_text(text: str) -> datetime:
    """A `to_text` timestamp back as an aware UTC datetime.

    `fromisoformat` reads the fixed-width form (its `Z` included) in C: 0.2 us against 8 us
    for `strptime`, which ran for every timestamp of every row read (pages of events, claims
    of jobs and deliveries). A text without a zone (`to_text` never writes one) is read as
    UTC."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def fetch_rows(
    conn: sqlite3.Connection, sql: str, params: Sequence[object] = ()
) -> list[dict[str, Any]]:
    """On the writer thread: every row of `sql` as a dict, timestamps parsed (`row_factory`)."""
    cur = conn.execute(sql, [param(p) for p in params])
    cur.row_factory = row_factory
    return list(cur.fetchall())


def run_statements(conn: sqlite3.Connection, statements: Sequence[Statement]) -> bool:
    """On the writer thread, in its transaction: a write's statements in order; False, with
    the rest left unrun, as soon as a guard changes no row (guards come first)."""
    for statement in statements:
        cur = conn.execute(statement.sql, [param(p) for p in statement.params])
        if statement.guard and cur.rowcount == 0:
            return False
    return True


class SqliteBase(SqlCalls):
    """The Store protocol on a local SQLite file."""

    migrated_at_open: list[str] = []  # replaced by open(), never mutated

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_ms: int = 5000,
        synchronous: str = "FULL",
        group_commit_ms: int = 2,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
        wal_limit_frames: int = WAL_LIMIT_FRAMES,
        wal_size_limit_bytes: int = WAL_SIZE_LIMIT_BYTES,
    ) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous
        self._group_commit_ms = group_commit_ms
        self._checkpoint_seconds = checkpoint_seconds
        self._wal_limit_frames = wal_limit_frames
        self._wal_size_limit_bytes = wal_size_limit_bytes
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        # The group-commit writer (its own connection and thread), set by `open()`.
        self._grouped: GroupCommitter | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self.group_commit_stats = GroupCommitStats()

    # -- life cycle ----------------------------------------------------------------------------
    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = row_factory  # type: ignore[assignment]
        await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        await conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA cache_size = -16384")  # 16 MiB: GET /events on large files
        # Checkpoints run on their own connection (`_checkpoint_forever`), not inside a commit.
        await conn.execute("PRAGMA wal_autocheckpoint = 0")
        return conn

    async def _checkpoint_forever(self, conn: aiosqlite.Connection) -> None:
        """Copy committed WAL pages back into the database every `checkpoint_seconds`.

        SQLite would otherwise do it inside whichever commit crossed 1000 WAL pages, making
        that batch's callers wait for the copy and an fsync of the database file. PASSIVE
        never blocks writers or readers; pages still in use wait for the next round.
        """
        while True:
            await asyncio.sleep(self._checkpoint_seconds)
            try:
                await self._checkpoint(conn)
            except sqlite3.Error as exc:
                _log.warning("sqlite.checkpoint_failed", error=type(exc).__name__)

    async def _checkpoint(self, conn: aiosqlite.Connection) -> None:
        """One PASSIVE checkpoint; if the WAL is past `wal_limit_frames`, a second one with writes
        held back, so that every frame is copied when the next write begins and SQLite starts
        the WAL over.

        Under steady intake a checkpoint beside the writer never finishes before the next
        batch begins, and SQLite only rewinds the WAL at a write that begins with every frame
        copied: the bench grew it to 1 GB in 16 s (20 KB per event), and it grows as long as a
        burst lasts. The second pass copies only what the first left, but ends in an fsync of
        the database file: hence the high limit. When intake pauses, the first pass catches up
        and SQLite rewinds the WAL by itself."""
        cur = await conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        row = await cur.fetchone()
        if row is None or row["log"] <= self._wal_limit_frames:
            return
        async with self._write_lock:
            await conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def open(self) -> None:
        """Create the file if needed, switch to WAL, apply migrations."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The file holds PHI and secrets: owner-only from its first byte. SQLite gives the
            # -wal and -shm files the database file's mode.
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            self._writer = await self._connect()
            await self._writer.execute("PRAGMA journal_mode = WAL")
            self.migrated_at_open = await self.migrate()
            self._reader = await self._connect()
            self._grouped = GroupCommitter(
                self.path,
                self._write_lock,
                self.group_commit_stats,
                busy_timeout_ms=self._busy_timeout_ms,
                synchronous=self._synchronous,
                window_ms=self._group_commit_ms,
                wal_size_limit_bytes=self._wal_size_limit_bytes,
            )
            await self._grouped.start()
            self._checkpointer = await self._connect()
            self._checkpoints = asyncio.get_running_loop().create_task(
                self._checkpoint_forever(self._checkpointer), name="receiver-sqlite-checkpoint"
            )
        except (sqlite3.Error, OSError, StoreUnavailableError) as exc:
            # Close what was opened: a live aiosqlite thread would keep the process from exiting.
            await self.close()
            raise StoreUnavailableError(f"cannot open SQLite database {self.path}: {exc}") from exc

    async def close(self) -> None:
        """Finish pending intake batches, then close the connections (waiting for a write in
        progress)."""
        checkpoints, self._checkpoints = self._checkpoints, None
        if checkpoints is not None:
            checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checkpoints
        grouped, self._grouped = self._grouped, None
        if grouped is not None:
            await grouped.aclose()
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            with contextlib.suppress(sqlite3.Error):
                await checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            await checkpointer.close()
        async with self._write_lock:
            for conn in (self._reader, self._writer):
                if conn is not None:
                    await conn.close()
            self._reader = self._writer = None

    async def ping(self) -> None:
        """A trivial read through the reader connection."""
        await self._fetchall("SELECT 1")

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

    async def _write_grouped(self, write: Callable[[sqlite3.Connection], T]) -> T:
        """Run `write` (synchronous, on the writer thread) in a transaction shared with the
        other writes pending within the group-commit window; its result once committed."""
        grouped = self._grouped
        if grouped is None:
            raise StoreUnavailableError("store is not open")
        return await grouped.submit(write)

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
        """Every row of one read, on a snapshot taken when it starts.

        Executing and fetching are one job on the reader's thread (`execute_fetchall`), and
        the statement is stepped to its end there, which ends its read transaction. Two jobs
        (`execute`, then `fetchall`) let other callers' statements run in between inside this
        one's transaction, on its older snapshot: a worker then failed to find the event of the
        job it had just claimed."""
        async with self._read() as conn:
            found = await conn.execute_fetchall(sql, [param(p) for p in params])
            return list(found)  # type: ignore[arg-type]

    async def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        """Every row of one `?`-style read (SQL written once for both adapters)."""
        return await self._fetchall(sql, params)

    async def _write(self, sql: str, params: Sequence[object] = ()) -> int:
        """One `?`-style statement in its own transaction on the writer; the rows it changed."""
        async with self._transaction() as conn:
            cur = await conn.execute(sql, [param(p) for p in params])
            return cur.rowcount

    async def _run(self, statements: Sequence[Statement], *, wake: str | None = None) -> bool:
        """In one group-committed write; SQLite cannot `wake` other processes (they poll)."""
        return await self._write_grouped(lambda conn: run_statements(conn, statements))

    async def _fetchone(self, sql: str, params: Sequence[object] = ()) -> dict[str, Any] | None:
        found = await self._fetchall(sql, params)
        return found[0] if found else None
