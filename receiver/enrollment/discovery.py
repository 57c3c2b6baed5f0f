"""Missed Coverage Discovery callbacks: for each Optum connection that opts in, read Optum's
task list from a stored cursor and record every finished task through the same parser and
dedup key a callback gets (`optum:task:{id}:{status}`), so whichever of the two arrives
second is a duplicate. `next_cursor` is the pure part; `DiscoverySweeper` the shell."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

import orjson
import structlog

from receiver.clock import Clock
from receiver.errors import BadRequestError
from receiver.ids import new_id
from receiver.intake.optum import parse_coverage_discovery
from receiver.pump import Wakeup
from receiver.store.base import PROCESS_JOB
from receiver.store.ports import EnrollmentStageStore
from receiver.upstream.optum import MAX_PAGE_SIZE, OptumClient, OptumConnection, OptumError

_log = structlog.get_logger("receiver.enrollment.discovery")

FINISHED = frozenset({"success", "failure"})
FIRST_LOOKBACK = timedelta(days=1)  # how far back the first sweep of a connection reads
MAX_PAGES = 50  # per connection and sweep; the cursor resumes the rest


def cursor_name(connection: str) -> str:
    """The poll cursor a connection's sweep keeps its start time under."""
    return f"optum-discovery:{connection}"


def task_start(task: Mapping[str, object]) -> datetime | None:
    """A task's `startDateTime` as an aware datetime, or None."""
    value = task.get("startDateTime")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def next_cursor(
    previous: datetime, tasks: Iterable[Mapping[str, object]], *, now: datetime
) -> datetime:
    """Where the next sweep starts (pure): the start of the earliest task still pending (it
    must be read again once finished), else the latest start seen, never before `previous`
    nor after `now`. Tasks starting at the same second as the cursor are read again: their
    dedup keys make that harmless."""
    pending: list[datetime] = []
    latest = previous
    for task in tasks:
        start = task_start(task)
        if start is None:
            continue
        latest = max(latest, start)
        if task.get("status") not in FINISHED:
            pending.append(start)
    chosen = min(pending) if pending else latest
    return min(max(chosen, previous), now)


class DiscoverySweeper:
    """Sweeps each opted-in connection's task list and records the finished tasks."""

    def __init__(
        self,
        *,
        store: EnrollmentStageStore,
        client: OptumClient,
        clock: Clock,
        published: Wakeup | None = None,
        new_event_id: Callable[[], str] = lambda: new_id("evt"),
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._published = published
        self._new_event_id = new_event_id

    async def run_once(self) -> int:
        """Sweep every opted-in connection; how many missed callbacks were recorded."""
        created = 0
        for stored in await self._store.list_optum_connections():
            if stored.discover_missed:
                try:
                    created += await self.sweep(stored.connection)
                except OptumError as exc:
                    _log.warning(
                        "discovery.sweep_failed",
                        connection=stored.name,
                        status=exc.status,
                        reason=exc.reason,
                        trace_id=exc.trace_id,
                    )
        if created and self._published is not None:
            self._published.notify()
        return created

    async def run_forever(self, stop: asyncio.Event, *, interval_seconds: float) -> None:
        """`run_once` every `interval_seconds` until `stop` is set; failures are logged."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # the store may be briefly unavailable
                _log.warning("discovery.sweep_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_seconds):
                    await stop.wait()

    async def sweep(self, connection: OptumConnection) -> int:
        """Read the connection's tasks since its cursor (oldest first), record the finished
        ones, save the new cursor; how many events were created."""
        now = self._clock()
        name = cursor_name(connection.name)
        saved = await self._store.fetch_poll_cursor(name)
        since = datetime.fromisoformat(saved) if saved else now - FIRST_LOOKBACK
        seen: list[dict[str, object]] = []
        created = 0
        offset: int | None = 0
        pages = 0
        while offset is not None and pages < MAX_PAGES:
            page = await self._client.list_coverage_discovery_tasks(
                connection, since=since, offset=offset, limit=MAX_PAGE_SIZE
            )
            pages += 1
            for task in page.tasks:
                seen.append(task)
                if task.get("status") in FINISHED and await self._record(connection, task, now):
                    created += 1
            offset = page.next_offset
        cursor = next_cursor(since, seen, now=now)
        await self._store.save_poll_cursor(name, cursor.isoformat(), now)
        _log.info("discovery.swept", connection=connection.name, tasks=len(seen), created=created)
        return created

    async def _record(
        self, connection: OptumConnection, task: dict[str, object], now: datetime
    ) -> bool:
        try:
            event = parse_coverage_discovery(
                task,
                event_id=self._new_event_id(),
                body=orjson.dumps(task),
                headers={"x-optum-tenant-id": connection.tenant_id},
                received_at=now,
            )
        except BadRequestError:
            _log.warning("discovery.task_unreadable", connection=connection.name)
            return False
        recorded = await self._store.record_inbound(event, PROCESS_JOB)
        return recorded.created
