"""The audit trail's SQL, written once with `?` placeholders, and its rows as values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from receiver.models import AuditEntry, AuditFilter

COLUMNS = "seq, id, created_at, actor, action, target, filter, counts, request_id"

INSERT_SQL = (
    "INSERT INTO audit_log (id, created_at, actor, action, target, filter, counts, request_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_params(entry: AuditEntry) -> tuple[object, ...]:
    """INSERT_SQL's parameters (`filter` and `counts` as JSON text)."""
    return (
        entry.id,
        entry.created_at,
        entry.actor,
        entry.action,
        entry.target,
        orjson.dumps(entry.filter).decode(),
        orjson.dumps(entry.counts).decode(),
        entry.request_id,
    )


def list_sql(flt: AuditFilter, before_seq: int | None, limit: int) -> tuple[str, list[object]]:
    """A newest-first page of `flt` below `before_seq`, one row more than `limit`."""
    pairs: list[tuple[str, object]] = [
        ("actor = ?", flt.actor),
        ("action = ?", flt.action),
        ("created_at >= ?", flt.since),
        ("created_at < ?", flt.until),
        ("seq < ?", before_seq),
    ]
    used = [(clause, value) for clause, value in pairs if value is not None]
    where = " WHERE " + " AND ".join(clause for clause, _ in used) if used else ""
    sql = f"SELECT {COLUMNS} FROM audit_log{where} ORDER BY seq DESC LIMIT ?"  # noqa: S608
    return sql, [*(value for _, value in used), limit + 1]


def entry_from_row(row: Mapping[str, Any]) -> AuditEntry:
    """An AuditEntry from a row of COLUMNS (timestamps already parsed by the adapter)."""
    return AuditEntry(
        id=row["id"],
        created_at=row["created_at"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        request_id=row["request_id"],
        filter=orjson.loads(row["filter"]),
        counts=orjson.loads(row["counts"]),
    )
