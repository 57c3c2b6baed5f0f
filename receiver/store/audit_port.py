"""AuditTrail: the narrow store port of the audit trail (append and list, never change)."""

from __future__ import annotations

from typing import Protocol

from receiver.models import AuditEntry, AuditFilter, Page


class AuditTrail(Protocol):
    """Append-only audit rows: the store refuses to update or delete them."""

    async def append_audit(self, entry: AuditEntry) -> None:
        """Store one audit row, committed before returning."""

    async def list_audit(
        self, flt: AuditFilter, *, limit: int, cursor: str | None
    ) -> Page[AuditEntry]:
        """Audit rows matching `flt`, newest first; `cursor` continues a page."""
