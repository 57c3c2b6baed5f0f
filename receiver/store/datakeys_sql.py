"""The SQL of the data-key port, written once with `?` placeholders for both dialects.

`{json}` marks where a JSON column's value crosses as text: nothing on SQLite (JSON is TEXT
there), a cast to and from JSONB on PostgreSQL. `render_postgres` turns a statement into the
PostgreSQL form (`$1..$n`, the casts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ValueKind = Literal["bytes", "text", "json"]


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column whose values are sealed: where it is, how its values are typed, and which of
    the row's columns (cast to text) make the row id its values are bound to (`row_aad`)."""

    name: str
    table: str
    column: str
    kind: ValueKind
    id_columns: tuple[str, ...]


# The columns `receiver keys reencrypt` walks by `seq`. Account secrets (a table without a
# seq, changed only by operators) are rewritten through the Store verbs instead.
SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn("event_bodies", "inbound_events", "body", "bytes", ("id",)),
    SealedColumn("event_headers", "inbound_events", "headers", "json", ("id",)),
    SealedColumn("documents", "documents", "body", "bytes", ("transaction_id", "kind")),
    SealedColumn(
        "claim_entries", "claim_entries", "data", "json", ("patient_control_number", "kind")
    ),
    SealedColumn("messages", "outbound_messages", "data", "json", ("id",)),
    SealedColumn(
        "attempt_excerpts", "delivery_attempts", "response_excerpt", "text", ("delivery_id",)
    ),
    SealedColumn("subscription_secrets", "subscriptions", "secret", "text", ("id",)),
    SealedColumn(
        "subscription_previous_secrets", "subscriptions", "previous_secret", "text", ("id",)
    ),
)
COLUMNS_BY_NAME = {c.name: c for c in SEALED_COLUMNS}

LIST_DATA_KEYS = (
    "SELECT id, purpose, kek_id, material, created_at FROM data_keys ORDER BY created_at, id"
)
# The one index key is unique (a partial unique index): a second process starting at the same
# moment inserts nothing and reads the first one's key.
ADD_DATA_KEY = (
    "INSERT INTO data_keys (id, purpose, kek_id, material, created_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
# Compare-and-set on the wrapping KEK, so two rewraps at once cannot lose a key.
REWRAP_DATA_KEY = "UPDATE data_keys SET kek_id = ?, material = ? WHERE id = ? AND kek_id = ?"


def scan_sql(col: SealedColumn) -> str:
    """Up to `?` rows after seq `?` holding a value in `col`, in seq order."""
    ids = ", ".join(f"CAST({c} AS TEXT) AS id{i}" for i, c in enumerate(col.id_columns))
    value = f"{col.column}{{json_out}}" if col.kind == "json" else col.column
    return (
        # Identifiers from SEALED_COLUMNS only, never from input.
        f"SELECT seq, {ids}, {value} AS value FROM {col.table} "  # noqa: S608
        f"WHERE seq > ? AND {col.column} IS NOT NULL ORDER BY seq LIMIT ?"
    )


def replace_sql(col: SealedColumn) -> str:
    """Set `col` (and, for claim entries, the patient control number) of the row with seq `?`
    to `?` if it still holds `?`: a row changed meanwhile is left for the next run."""
    cast = "{json_in}" if col.kind == "json" else ""
    rekey = "patient_control_number = ?, " if col.table == "claim_entries" else ""
    return (
        f"UPDATE {col.table} SET {rekey}{col.column} = ?{cast} "  # noqa: S608
        f"WHERE seq = ? AND {col.column} = ?{cast}"
    )


_PLACEHOLDER = re.compile(r"\?")


def render_sqlite(sql: str) -> str:
    """The SQLite form: JSON is TEXT, so no casts."""
    return sql.replace("{json_out}", "").replace("{json_in}", "")


def render_postgres(sql: str) -> str:
    """The PostgreSQL form: `$1..$n` in order, JSONB crossing as text."""
    counter = iter(range(1, 10_000))
    numbered = _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)
    return numbered.replace("{json_out}", "::text").replace("{json_in}", "::text::jsonb")
