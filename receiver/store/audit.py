"""The audit trail, written once in `?`-style SQL over an adapter's `_rows`/`_write`; the table's
triggers (migration 0013) refuse UPDATE and DELETE on both dialects."""

from __future__ import annotations

from receiver.models import AuditEntry, AuditFilter, Page
from receiver.store import audit_sql, rows
from receiver.store.base import check_limit, decode_cursor
from receiver.store.sql import SqlCalls


class AuditRows(SqlCalls):
    """AuditTrail over an adapter's `_rows`/`_write`."""

    async def append_audit(self, entry: AuditEntry) -> None:
        """One INSERT in its own transaction."""
        await self._write(audit_sql.INSERT_SQL, audit_sql.insert_params(entry))

    async def list_audit(
        self, flt: AuditFilter, *, limit: int, cursor: str | None
    ) -> Page[AuditEntry]:
        """Newest first, cursor on `seq`."""
        sql, params = audit_sql.list_sql(flt, decode_cursor(cursor), check_limit(limit))
        return rows.page_of(await self._rows(sql, params), limit, audit_sql.entry_from_row)
