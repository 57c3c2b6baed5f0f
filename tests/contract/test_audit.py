"""The audit trail contract (`AuditTrail`), run against every adapter: rows appended and read
back newest first with filters and cursors, and a table that refuses UPDATE and DELETE."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import asyncpg
import pytest

from receiver.errors import BadRequestError
from receiver.ids import new_id
from receiver.models import AuditEntry, AuditFilter
from receiver.store.base import Store
from receiver.store.sealed import SealedStore
from receiver.store.sqlite import SqliteStore
from tests.conftest import POSTGRES_DSN
from tests.contract.support import T0

pytestmark = pytest.mark.anyio


def entry(n: int, *, actor: str = "cli:ops", action: str = "replay") -> AuditEntry:
    return AuditEntry(
        id=new_id("aud"),
        created_at=T0 + timedelta(minutes=n),
        actor=actor,
        action=action,
        target=f"evt_{n}",
        request_id=f"req-{n}",
        filter={"since": "2025-03-21T08:00:00+00:00", "statuses": ["dead"]},
        counts={"requeued": n},
    )


async def appended(store: Store, *entries: AuditEntry) -> list[AuditEntry]:
    for e in entries:
        await store.append_audit(e)
    return list(entries)


async def test_rows_read_back_newest_first_as_written(store: Store) -> None:
    written = await appended(store, entry(1), entry(2, actor="cli_abc", action="event.read"))
    page = await store.list_audit(AuditFilter(), limit=10, cursor=None)
    assert page.items == written[::-1]
    assert page.next_cursor is None


async def test_filters_on_actor_action_and_window(store: Store) -> None:
    e1, e2, e3 = await appended(
        store, entry(1), entry(2, actor="cli_abc"), entry(3, action="event.read")
    )

    async def ids(flt: AuditFilter) -> list[str]:
        return [e.id for e in (await store.list_audit(flt, limit=10, cursor=None)).items]

    assert await ids(AuditFilter(actor="cli_abc")) == [e2.id]
    assert await ids(AuditFilter(action="replay")) == [e2.id, e1.id]
    window = AuditFilter(since=e2.created_at, until=e3.created_at)
    assert await ids(window) == [e2.id]
    assert await ids(AuditFilter(actor="cli:ops", since=e1.created_at)) == [e3.id, e1.id]


async def test_cursor_pages_through_everything_once(store: Store) -> None:
    written = await appended(store, *(entry(n) for n in range(5)))
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.list_audit(AuditFilter(), limit=2, cursor=cursor)
        seen += [e.id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [e.id for e in reversed(written)]
    with pytest.raises(BadRequestError):
        await store.list_audit(AuditFilter(), limit=2, cursor="nonsense!")


async def test_the_table_refuses_update_and_delete(store: Store) -> None:
    (written,) = await appended(store, entry(1))
    statements = (
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
    )
    raw = store.inner if isinstance(store, SealedStore) else store  # the adapter's own tables
    if isinstance(raw, SqliteStore):
        conn = sqlite3.connect(raw.path, timeout=5)
        try:
            for sql in statements:
                with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                    conn.execute(sql)
        finally:
            conn.close()
    else:
        schema = raw.schema  # type: ignore[attr-defined]
        pg = await asyncpg.connect(POSTGRES_DSN, server_settings={"search_path": schema})
        try:
            for sql in (*statements, "TRUNCATE audit_log"):
                with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                    await pg.execute(sql)
        finally:
            await pg.close()
    page = await store.list_audit(AuditFilter(), limit=10, cursor=None)
    assert page.items == [written]
