"""Group commit: writes pending together go into one SQLite transaction.

Callers queue a write (a function of the connection) and await its future. One writer task
takes everything pending (after waiting up to `window_ms` for more once the first is there, at
most `max_batch` items) and, under the store's write lock, runs the whole batch as one
synchronous function on a dedicated thread that owns its own sqlite3 connection:
BEGIN IMMEDIATE, every item, COMMIT. Should an item raise, the transaction is rolled back and
the batch run again with one SAVEPOINT per item, so that an error of one item fails that item
only (a savepoint per item on every batch cost about 95 k instructions per intake, a quarter of
the writer's work). Each future is resolved only after COMMIT returned; a failed BEGIN or
COMMIT fails the whole batch with StoreUnavailableError. A write may therefore run twice, the
first run rolled back: it must act on the connection only.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from receiver.errors import ConflictError, StoreUnavailableError

T = TypeVar("T")

WRITER_CACHE_KIB = 64 * 1024  # the intake writer's page cache


@dataclass
class GroupCommitStats:
    """What the writer did since the store opened (for tests and measurement)."""

    batches: int = 0  # transactions committed
    items: int = 0  # items in committed transactions (created or duplicate)
    failed_batches: int = 0
    isolated_batches: int = 0  # batches run again item by item after one of them raised


@dataclass(slots=True)
class _Pending:
    # Runs on the writer thread inside the batch's transaction; run again, under a savepoint
    # of its own, if an item of its batch raised (so it must act on the connection only).
    write: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]


class GroupCommitter:
    """A queue, one writer task and one writer thread with its own sqlite3 connection."""

    def __init__(
        self,
        path: Path,
        lock: asyncio.Lock,
        stats: GroupCommitStats,
        *,
        busy_timeout_ms: int,
        synchronous: str,
        window_ms: int,
        wal_size_limit_bytes: int,
        max_batch: int = 256,
    ) -> None:
        self._path = path
        self._lock = lock
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous
        self._wal_size_limit_bytes = wal_size_limit_bytes
        # 0 turns grouping off: one transaction per item.
        self._window_s = window_ms / 1000
        self._max_batch = max_batch if window_ms > 0 else 1
        self._pending: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.stats = stats

    # -- life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the writer connection on its own thread and start the writer task."""
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="receiver-sqlite-writer")
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._executor, self._connect)
        self._task = asyncio.create_task(self._run(), name="receiver-sqlite-group-commit")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Dedup lookups and index inserts land on random pages of large B-trees: a 1M-event
        # database spent its intake time re-reading them through the default 2 MB cache.
        conn.execute(f"PRAGMA cache_size = {-WRITER_CACHE_KIB}")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the store's checkpointer does it
        # Each item's savepoint keeps a journal of the pages it changed, for ROLLBACK TO; in a
        # temporary file that was four times the bytes the WAL got (strace, bench load).
        conn.execute("PRAGMA temp_store = MEMORY")
        # When a write starts the WAL over, cut the file back to this size.
        conn.execute(f"PRAGMA journal_size_limit = {int(self._wal_size_limit_bytes)}")
        return conn

    async def aclose(self) -> None:
        """Refuse new items, finish every pending batch, then stop the task and the thread."""
        self._closing = True
        self._wake.set()
        task, executor, conn = self._task, self._executor, self._conn
        try:
            if task is not None:
                await asyncio.wait([task])  # unlike `await task`, a cancelled close spares it
        finally:
            if task is not None and not task.done():
                task.cancel()
            if executor is not None:
                if conn is not None:
                    # On the owning thread, after any batch still running there.
                    with contextlib.suppress(sqlite3.Error):
                        await asyncio.get_running_loop().run_in_executor(executor, conn.close)
                executor.shutdown(wait=True)
            self._task = self._executor = self._conn = None

    # -- callers -------------------------------------------------------------------------------
    async def submit(self, write: Callable[[sqlite3.Connection], T]) -> T:
        """Queue `write` and return its result once its transaction committed."""
        if self._closing or self._task is None or self._task.done():
            raise StoreUnavailableError("store is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(write, future))
        self._wake.set()
        return await future

    # -- the writer ----------------------------------------------------------------------------
    async def _run(self) -> None:
        batch: list[_Pending] = []
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if self._window_s > 0 and not self._closing:
                    await self._gather()
                async with self._lock:
                    batch = self._take()
                    if batch:
                        await self._commit(batch)
                batch = []
        finally:
            # Only reached early if the task itself is cancelled: nobody may wait forever.
            self._fail_all(batch, "store is closing")
            self._fail_all(list(self._pending), "store is closing")
            self._pending.clear()

    async def _gather(self) -> None:
        """Let more writes join, for at most the window: stop early when the batch is full or
        a pass of the event loop brought none (a fixed wait measured slower: it delays
        callers who are all queued already)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._window_s
        seen = len(self._pending)
        while seen < self._max_batch and loop.time() < deadline:
            await asyncio.sleep(0)
            if len(self._pending) == seen:
                return
            seen = len(self._pending)

    async def _commit(self, batch: list[_Pending]) -> None:
        """Run one batch on the writer thread and resolve its callers after COMMIT."""
        try:
            if self._executor is None:
                raise StoreUnavailableError("store is not open")
            results = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._write_batch, [p.write for p in batch]
            )
        except Exception as exc:  # the batch as a whole: nothing of it is acknowledged
            self.stats.failed_batches += 1
            detail = (
                exc.detail if isinstance(exc, StoreUnavailableError) else f"write failed: {exc}"
            )
            self._fail_all(batch, detail)
            return
        self.stats.batches += 1
        self.stats.items += len(batch)
        for pending, result in zip(batch, results, strict=True):
            if pending.future.done():  # the caller went away; its row may be committed
                continue
            if isinstance(result, BaseException):
                pending.future.set_exception(result)
            else:
                pending.future.set_result(result)

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        while self._pending and len(batch) < self._max_batch:
            pending = self._pending.popleft()
            if not pending.future.done():  # skip callers cancelled while queued
                batch.append(pending)
        return batch

    @staticmethod
    def _fail_all(batch: list[_Pending], detail: str) -> None:
        for pending in batch:  # one exception per caller: each raise adds its own traceback
            if not pending.future.done():
                pending.future.set_exception(StoreUnavailableError(detail))

    def _write_batch(self, writes: list[Callable[[sqlite3.Connection], Any]]) -> list[Any]:
        """On the writer thread: the whole batch in one transaction. Every item runs bare
        first; if one raises, the transaction is rolled back and the batch runs again with a
        savepoint per item, each failing item alone."""
        conn = self._conn
        if conn is None:
            raise StoreUnavailableError("store is not open")
        self._begin(conn)
        try:
            results = _run_bare(conn, writes)
            if results is None:
                conn.execute("ROLLBACK")
                self.stats.isolated_batches += 1
                self._begin(conn)
                results = _run_isolated(conn, writes)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreUnavailableError(f"write failed: {exc}") from exc
            raise
        return results

    @staticmethod
    def _begin(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot begin a write: {exc}") from exc


def _run_bare(
    conn: sqlite3.Connection, writes: list[Callable[[sqlite3.Connection], Any]]
) -> list[Any] | None:
    """Every write in order, no savepoints; None as soon as one raises (the caller rolls the
    transaction back), unless SQLite itself rolled it back: then the batch has failed."""
    results: list[Any] = []
    for write in writes:
        try:
            results.append(write(conn))
        except Exception as exc:
            if isinstance(exc, sqlite3.Error) and not conn.in_transaction:
                raise
            return None
    return results


def _run_isolated(
    conn: sqlite3.Connection, writes: list[Callable[[sqlite3.Connection], Any]]
) -> list[Any]:
    """Every write under a savepoint of its own: a result, or the exception for that caller."""
    results: list[Any] = []
    for write in writes:
        conn.execute("SAVEPOINT item")
        try:
            results.append(write(conn))
        except Exception as exc:
            if isinstance(exc, sqlite3.Error) and not conn.in_transaction:
                raise  # SQLite rolled the whole transaction back: the batch failed
            conn.execute("ROLLBACK TO item")
            results.append(_item_error(exc))
        conn.execute("RELEASE item")
    return results


def _item_error(exc: Exception) -> Exception:
    """The error one caller gets, mapped as the single-transaction path maps it."""
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(str(exc))
    if isinstance(exc, sqlite3.Error):
        return StoreUnavailableError(f"write failed: {exc}")
    return exc
