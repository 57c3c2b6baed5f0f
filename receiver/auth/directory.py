"""The directory: clients and Stedi accounts read through a short per-key TTL cache.

A key is fetched from the store at most once per `ttl_seconds` (a "not found" included);
concurrent misses for one key share one fetch. The app only reads clients and accounts; the
`receiver` CLI changes them from another process, and those changes are seen within
`ttl_seconds` (RECEIVER_DIRECTORY_CACHE_SECONDS). Freshness is judged by the app's clock; a
clock that moves backwards makes an entry stale.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from receiver.clock import Clock
from receiver.models import Account, Client

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_ENTRIES = 4096  # per kind: account names come from URLs, so "not found" must be bounded


def is_fresh(stored_at: datetime, now: datetime, ttl: timedelta) -> bool:
    """True while `now` is in [stored_at, stored_at + ttl)."""
    return stored_at <= now < stored_at + ttl


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    stored_at: datetime


class TtlCache(Generic[K, V]):
    """Values fetched at most once per `ttl_seconds` per key (0: every call fetches), with
    single-flight misses and least-recently-used eviction beyond `max_entries`."""

    def __init__(self, ttl_seconds: float, clock: Clock, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl = timedelta(seconds=max(0.0, ttl_seconds))
        self._clock = clock
        self._max = max(1, max_entries)
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._inflight: dict[K, asyncio.Task[V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: K, fetch: Callable[[K], Awaitable[V]]) -> V:
        """The cached value for `key`, or `fetch(key)` (shared with concurrent callers)."""
        if not self._ttl:
            return await fetch(key)
        entry = self._entries.get(key)
        if entry is not None:
            if is_fresh(entry.stored_at, self._clock(), self._ttl):
                self._entries.move_to_end(key)
                return entry.value
            del self._entries[key]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key, fetch))
            task.add_done_callback(_retrieve)
            self._inflight[key] = task
        # Shielded: one caller going away (a client disconnect) does not cancel the others.
        return await asyncio.shield(task)

    async def _load(self, key: K, fetch: Callable[[K], Awaitable[V]]) -> V:
        try:
            value = await fetch(key)
            self._entries[key] = _Entry(value, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
            return value
        finally:
            if self._inflight.get(key) is asyncio.current_task():
                del self._inflight[key]


def _retrieve(task: asyncio.Task[object]) -> None:
    """Mark a shared fetch's failure as seen, so that it is not reported when every waiter
    has gone; each waiter still gets the exception."""
    if not task.cancelled():
        task.exception()


class DirectoryStore(Protocol):
    """What the directory reads; the Store satisfies it."""

    async def fetch_client(self, client_id: str) -> Client | None:
        """A client by its client_id, revoked ones included."""

    async def fetch_account(self, name: str) -> Account | None:
        """A Stedi account by name."""


class Directory:
    """Clients (for the Bearer guard) and Stedi accounts (for webhook credentials), cached.

    Satisfies ClientLookup.
    """

    def __init__(self, store: DirectoryStore, *, ttl_seconds: float, clock: Clock) -> None:
        self._store = store
        self._clients: TtlCache[str, Client | None] = TtlCache(ttl_seconds, clock)
        self._accounts: TtlCache[str, Account | None] = TtlCache(ttl_seconds, clock)

    async def fetch_client(self, client_id: str) -> Client | None:
        """A client by its client_id (revoked ones included), at most `ttl_seconds` old."""
        return await self._clients.get(client_id, self._store.fetch_client)

    async def fetch_account(self, name: str) -> Account | None:
        """A Stedi account by name, at most `ttl_seconds` old."""
        return await self._accounts.get(name, self._store.fetch_account)
