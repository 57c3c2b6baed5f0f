"""The audit trail on PostgreSQL: rows appended in their own transaction, read newest first."""

from __future__ import annotations

from receiver.models import AuditEntry, AuditFilter, Page
from receiver.store import audit_sql, rows
from receiver.store.base import check_limit, decode_cursor
from receiver.store.postgres.base import PostgresBase

_INSERT_SQL = audit_sql.to_dollar(audit_sql.INSERT_SQL)


class PostgresAudit(PostgresBase):
    """AuditTrail on PostgreSQL (the table's triggers refuse UPDATE, DELETE and TRUNCATE)."""

    async def append_audit(self, entry: AuditEntry) -> None:
        """One INSERT."""
        await self._execute(_INSERT_SQL, *audit_sql.insert_params(entry))

    async def list_audit(
        self, flt: AuditFilter, *, limit: int, cursor: str | None
    ) -> Page[AuditEntry]:
        """Newest first, cursor on `seq`."""
        sql, params = audit_sql.list_sql(flt, decode_cursor(cursor), check_limit(limit))
        found = await self._fetch(audit_sql.to_dollar(sql), *params)
        return rows.page_of(found, limit, audit_sql.entry_from_row)
