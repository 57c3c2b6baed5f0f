"""The poll-cursor contract: named cursors fetched and upserted, run against every adapter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from receiver.store.base import Store
from tests.contract.support import T0

pytestmark = pytest.mark.anyio


async def test_a_cursor_never_saved_is_none(store: Store) -> None:
    assert await store.fetch_poll_cursor("stedi-poll:acme") is None


async def test_save_then_fetch_returns_the_value(store: Store) -> None:
    await store.save_poll_cursor("stedi-poll:acme", "time:2025-03-14T15:00:00.000Z", T0)

    assert await store.fetch_poll_cursor("stedi-poll:acme") == "time:2025-03-14T15:00:00.000Z"


async def test_save_again_replaces_the_value(store: Store) -> None:
    await store.save_poll_cursor("stedi-poll:acme", "time:2025-03-14T15:00:00.000Z", T0)
    await store.save_poll_cursor("stedi-poll:acme", "page:abc", T0 + timedelta(minutes=5))

    assert await store.fetch_poll_cursor("stedi-poll:acme") == "page:abc"


async def test_cursors_are_kept_per_name(store: Store) -> None:
    await store.save_poll_cursor("stedi-poll:acme", "page:a", T0)
    await store.save_poll_cursor("stedi-poll:globex", "page:b", T0)

    assert await store.fetch_poll_cursor("stedi-poll:acme") == "page:a"
    assert await store.fetch_poll_cursor("stedi-poll:globex") == "page:b"
    assert await store.fetch_poll_cursor("stedi-poll:other") is None
