"""Reading inbound events back, written once in `?`-style SQL over `SqlCalls`."""

from __future__ import annotations

from receiver.models import EventFilter, Page, StoredEvent
from receiver.store import rows
from receiver.store.base import check_limit, decode_cursor
from receiver.store.sql import SqlCalls


def _mark(_: int) -> str:
    return "?"


class EventReads(SqlCalls):
    """One event by id (with or without its body); pages of events, newest first."""

    async def fetch_event(self, event_id: str, *, with_body: bool = True) -> StoredEvent | None:
        """One event by id."""
        columns = rows.EVENT_COLUMNS + (", body" if with_body else "")
        found = await self._rows(
            f"SELECT {columns} FROM inbound_events WHERE id = ?",  # noqa: S608
            (event_id,),
        )
        if not found:
            return None
        row = found[0]
        return rows.event_from_row(row, bytes(row["body"]) if with_body else None)

    async def list_events(
        self, flt: EventFilter, *, limit: int, cursor: str | None
    ) -> Page[StoredEvent]:
        """Newest first, cursor on `seq`."""
        where, params = rows.event_conditions(flt, decode_cursor(cursor), _mark)
        found = await self._rows(
            f"SELECT {rows.EVENT_COLUMNS} FROM inbound_events{where} "  # noqa: S608
            "ORDER BY seq DESC LIMIT ?",
            [*params, check_limit(limit) + 1],
        )
        return rows.page_of(found, limit, rows.event_from_row)
