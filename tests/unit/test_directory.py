"""The directory cache: per-key TTL on the injected clock, single flight, invalidation, bounds."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from receiver.auth.clients import new_client
from receiver.auth.directory import Directory, TtlCache, is_fresh
from receiver.errors import StoreUnavailableError
from receiver.models import Account, Client

pytestmark = pytest.mark.anyio

T = TypeVar("T")
START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeStore:
    """An in-memory DirectoryStore that counts reads and can hold them until released."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.accounts: dict[str, Account] = {}
        self.reads: list[str] = []
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None
        self.reading = asyncio.Event()  # set once the store has been asked

    async def _read(self, what: str, value: T) -> T:
        """`value`, as read now, answered once the gate (if any) opens."""
        self.reads.append(what)
        self.reading.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return value

    async def fetch_client(self, client_id: str) -> Client | None:
        return await self._read(client_id, self.clients.get(client_id))

    async def update_client(self, client: Client) -> None:
        self.clients[client.client_id] = client

    async def fetch_account(self, name: str) -> Account | None:
        return await self._read(name, self.accounts.get(name))

    async def add_account(self, account: Account) -> None:
        self.accounts[account.name] = account

    async def update_account(self, account: Account) -> None:
        self.accounts[account.name] = account

    async def remove_account(self, name: str) -> bool:
        return self.accounts.pop(name, None) is not None


def account(name: str = "acme", stedi_account_id: str = "one") -> Account:
    return Account(name=name, stedi_account_id=stedi_account_id, created_at=START)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> FakeStore:
    found = FakeStore()
    found.accounts["acme"] = account()
    return found


@pytest.fixture
def directory(store: FakeStore, clock: FakeClock) -> Directory:
    return Directory(store, ttl_seconds=2, clock=clock)


def test_is_fresh_is_a_half_open_window() -> None:
    ttl = timedelta(seconds=2)
    assert is_fresh(START, START, ttl)
    assert is_fresh(START, START + timedelta(seconds=1.999), ttl)
    assert not is_fresh(START, START + ttl, ttl)
    assert not is_fresh(START, START - timedelta(microseconds=1), ttl)  # the clock went back


async def test_a_key_is_read_once_per_ttl(
    directory: Directory, store: FakeStore, clock: FakeClock
) -> None:
    assert await directory.fetch_account("acme") == account()
    clock.advance(1.9)
    assert await directory.fetch_account("acme") == account()
    assert store.reads == ["acme"]
    clock.advance(0.1)  # 2 s after it was read: stale
    await directory.fetch_account("acme")
    assert store.reads == ["acme", "acme"]


async def test_a_change_elsewhere_shows_after_the_ttl(
    directory: Directory, store: FakeStore, clock: FakeClock
) -> None:
    await directory.fetch_account("acme")
    store.accounts["acme"] = account(stedi_account_id="two")  # e.g. the CLI, another process
    assert (await directory.fetch_account("acme")).stedi_account_id == "one"  # type: ignore[union-attr]
    clock.advance(2)
    assert (await directory.fetch_account("acme")).stedi_account_id == "two"  # type: ignore[union-attr]


async def test_not_found_is_cached_for_the_ttl_too(
    directory: Directory, store: FakeStore, clock: FakeClock
) -> None:
    assert await directory.fetch_account("nobody") is None
    assert await directory.fetch_account("nobody") is None
    assert store.reads == ["nobody"]
    clock.advance(2)
    assert await directory.fetch_account("nobody") is None
    assert store.reads == ["nobody", "nobody"]


async def test_clients_and_accounts_are_cached_apart(
    directory: Directory, store: FakeStore
) -> None:
    client = new_client("optum", ["callbacks:coverage-discovery"], START)[0]
    store.clients[client.client_id] = client
    assert await directory.fetch_client(client.client_id) == client
    assert await directory.fetch_client(client.client_id) == client
    assert await directory.fetch_account("acme") == account()
    assert store.reads == [client.client_id, "acme"]


async def test_concurrent_misses_share_one_fetch(directory: Directory, store: FakeStore) -> None:
    store.gate = asyncio.Event()
    waiters = [asyncio.ensure_future(directory.fetch_account("acme")) for _ in range(32)]
    for _ in range(3):  # every waiter has asked, the fetch is held at the gate
        await asyncio.sleep(0)
    assert store.reads == ["acme"]
    assert not any(w.done() for w in waiters)
    store.gate.set()
    results = await asyncio.gather(*waiters)
    assert results == [account()] * 32
    assert store.reads == ["acme"]


async def test_a_failed_fetch_reaches_every_waiter_and_is_not_cached(
    directory: Directory, store: FakeStore
) -> None:
    store.gate = asyncio.Event()
    store.fail = StoreUnavailableError("the store is down")
    waiters = [asyncio.ensure_future(directory.fetch_account("acme")) for _ in range(3)]
    await asyncio.sleep(0)
    store.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, StoreUnavailableError) for r in results)
    assert store.reads == ["acme"]
    store.fail = None
    store.gate = None
    assert await directory.fetch_account("acme") == account()
    assert store.reads == ["acme", "acme"]


async def test_one_waiter_cancelled_does_not_cancel_the_others(
    directory: Directory, store: FakeStore
) -> None:
    store.gate = asyncio.Event()
    first = asyncio.ensure_future(directory.fetch_account("acme"))
    second = asyncio.ensure_future(directory.fetch_account("acme"))
    await asyncio.sleep(0)
    first.cancel()
    store.gate.set()
    assert await second == account()
    assert first.cancelled()
    assert store.reads == ["acme"]


async def test_ttl_zero_reads_the_store_every_time(store: FakeStore, clock: FakeClock) -> None:
    directory = Directory(store, ttl_seconds=0, clock=clock)
    await directory.fetch_account("acme")
    await directory.fetch_account("acme")
    assert store.reads == ["acme", "acme"]


async def test_entries_are_bounded(clock: FakeClock) -> None:
    reads: list[str] = []

    async def fetch(key: str) -> str:
        reads.append(key)
        return key.upper()

    cache: TtlCache[str, str] = TtlCache(60, clock, max_entries=2)
    for key in ("a", "b", "a", "c"):  # c evicts b, the least recently used
        assert await cache.get(key, fetch) == key.upper()
    assert len(cache) == 2
    await cache.get("a", fetch)
    await cache.get("b", fetch)
    assert reads == ["a", "b", "c", "b"]


async def test_a_clock_moving_back_makes_an_entry_stale(
    directory: Directory, store: FakeStore, clock: FakeClock
) -> None:
    await directory.fetch_account("acme")
    clock.advance(-1)
    await directory.fetch_account("acme")
    assert store.reads == ["acme", "acme"]


def test_accounts_compare_by_value() -> None:
    # The assertions above rely on it.
    assert dataclasses.replace(account()) == account()
