"""The claim loop shared by the worker and the dispatcher: keep up to N items in flight,
look for more as soon as one finishes or new work is signalled, otherwise poll.

Concurrency rule for the whole package: receiver runs on asyncio only (uvicorn, aiosqlite and
asyncpg need it), so its own code uses asyncio's primitives (TaskGroup, timeout, Event, Lock)
and never anyio's. The tests use anyio (its pytest plugin, task groups, timeouts) on the
asyncio backend.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import structlog

T = TypeVar("T")

_log = structlog.get_logger("receiver.pump")

# The event each loop logs when a claim fails, written out so that it can be grepped.
_CLAIM_FAILED = {"worker": "worker.claim_failed", "dispatcher": "dispatcher.claim_failed"}


class Wakeup:
    """In-process signal that new work is waiting (or that the loop should stop), so a loop
    need not wait out its idle interval. Processes elsewhere learn of work by LISTEN/NOTIFY
    (PostgreSQL) or by polling."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """New work (or a stop): wake a waiting loop."""
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Return on `notify` or after `seconds`, whichever is first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
        self._event.clear()


async def pump(
    *,
    name: str,
    claim: Callable[[int], Awaitable[Sequence[T]]],
    handle: Callable[[T], Coroutine[Any, Any, None]],
    max_in_flight: int,
    idle_seconds: float,
    stop: asyncio.Event,
    wakeup: Wakeup,
) -> None:
    """Claim up to the free slots and handle each item in its own task, until `stop`.

    `handle` must not raise (it records its own failures). A claim that fails (the store
    may be briefly unavailable) is logged and retried after the idle interval. Items in
    flight are finished before returning.
    """
    in_flight: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()

    def finished(task: asyncio.Task[None]) -> None:
        in_flight.discard(task)
        wakeup.notify()

    while not stop.is_set():
        claimed: Sequence[T] = ()
        free = max_in_flight - len(in_flight)
        if free > 0:
            try:
                claimed = await claim(free)
            except Exception as exc:
                _log.warning(_CLAIM_FAILED[name], error=type(exc).__name__)
        for item in claimed:
            task = loop.create_task(handle(item))
            in_flight.add(task)
            task.add_done_callback(finished)
        if not claimed and not stop.is_set():
            await wakeup.wait(idle_seconds)
    if in_flight:
        await asyncio.gather(*in_flight, return_exceptions=True)
