"""SQLite part: wrapped data keys, and raw access to sealed columns for reencryption."""

from __future__ import annotations

from typing import Any

from receiver.crypto import WrappedKey
from receiver.store import datakeys_sql as q
from receiver.store.datakeys_port import RawValue, StoredDataKey
from receiver.store.sqlite.base import SqliteBase, from_text, to_text


class SqliteDataKeys(SqliteBase):
    """The DataKeyStore port on SQLite."""

    async def list_data_keys(self) -> list[StoredDataKey]:
        """Every stored data key, oldest first."""
        found = await self._fetchall(q.render_sqlite(q.LIST_DATA_KEYS))
        return [_data_key(row) for row in found]

    async def add_data_key(self, key: StoredDataKey) -> bool:
        """Insert; False if it is a second index key."""
        w = key.wrapped
        async with self._transaction() as conn:
            cursor = await conn.execute(
                q.render_sqlite(q.ADD_DATA_KEY),
                (w.dek_id, key.purpose, w.kek_id, w.material, to_text(w.created_at)),
            )
            return bool(cursor.rowcount == 1)

    async def rewrap_data_key(self, new: WrappedKey, *, old_kek_id: str) -> bool:
        """Compare-and-set on the wrapping KEK id."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                q.render_sqlite(q.REWRAP_DATA_KEY),
                (new.kek_id, new.material, new.dek_id, old_kek_id),
            )
            return bool(cursor.rowcount == 1)

    async def scan_sealed(self, column: str, *, after_seq: int, limit: int) -> list[RawValue]:
        """Raw values of one sealed column after a seq."""
        col = q.COLUMNS_BY_NAME[column]
        found = await self._fetchall(q.render_sqlite(q.scan_sql(col)), (after_seq, limit))
        return [_raw(row, len(col.id_columns)) for row in found]

    async def replace_sealed(
        self, column: str, *, seq: int, old: bytes | str, new: bytes | str, key: str | None = None
    ) -> bool:
        """Compare-and-set one value."""
        col = q.COLUMNS_BY_NAME[column]
        params: tuple[object, ...] = (new, seq, old) if key is None else (key, new, seq, old)
        async with self._transaction() as conn:
            cursor = await conn.execute(q.render_sqlite(q.replace_sql(col)), params)
            return bool(cursor.rowcount == 1)


def _data_key(row: dict[str, Any]) -> StoredDataKey:
    wrapped = WrappedKey(
        dek_id=str(row["id"]),
        kek_id=str(row["kek_id"]),
        created_at=from_text(str(row["created_at"])),
        material=bytes(row["material"]),
    )
    return StoredDataKey(purpose="index" if row["purpose"] == "index" else "data", wrapped=wrapped)


def _raw(row: dict[str, Any], n_ids: int) -> RawValue:
    value = row["value"]
    return RawValue(
        seq=int(row["seq"]),
        ids=tuple(str(row[f"id{i}"]) for i in range(n_ids)),
        value=bytes(value) if isinstance(value, bytes | memoryview) else str(value),
    )
