"""The audit trail on SQLite: rows appended through the group-commit writer, read newest first."""

from __future__ import annotations

import sqlite3

from receiver.models import AuditEntry, AuditFilter, Page
from receiver.store import audit_sql, rows
from receiver.store.base import check_limit, decode_cursor
from receiver.store.sqlite.base import SqliteBase, param


class SqliteAudit(SqliteBase):
    """AuditTrail on SQLite (the table's triggers refuse UPDATE and DELETE)."""

    async def append_audit(self, entry: AuditEntry) -> None:
        """One INSERT, committed with whatever else is pending in the group-commit window."""
        values = [param(value) for value in audit_sql.insert_params(entry)]

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(audit_sql.INSERT_SQL, values)

        await self._write_grouped(write)

    async def list_audit(
        self, flt: AuditFilter, *, limit: int, cursor: str | None
    ) -> Page[AuditEntry]:
        """Newest first, cursor on `seq`."""
        sql, params = audit_sql.list_sql(flt, decode_cursor(cursor), check_limit(limit))
        found = await self._fetchall(sql, params)
        return rows.page_of(found, limit, audit_sql.entry_from_row)
