"""The data-key port: wrapped data keys, and the raw sealed columns `keys reencrypt` rewrites."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from receiver.crypto import WrappedKey

KeyPurpose = Literal["data", "index"]


@dataclass(frozen=True, slots=True)
class StoredDataKey:
    """A wrapped data key as stored, with what it is for."""

    purpose: KeyPurpose
    wrapped: WrappedKey


@dataclass(frozen=True, slots=True)
class RawValue:
    """One stored value of a sealed column, as the database holds it (sealed or not yet)."""

    seq: int
    ids: tuple[str, ...]  # the row's id columns, as text (see SealedColumn.id_columns)
    value: bytes | str


class DataKeyStore(Protocol):
    """Wrapped data keys, and raw access to sealed columns for reencryption."""

    async def list_data_keys(self) -> list[StoredDataKey]:
        """Every stored data key, oldest first."""

    async def add_data_key(self, key: StoredDataKey) -> bool:
        """Store a new data key; False (and nothing stored) if it is an index key and one
        is already stored."""

    async def rewrap_data_key(self, new: WrappedKey, *, old_kek_id: str) -> bool:
        """Replace a data key's wrapping if it is still wrapped by `old_kek_id`."""

    async def scan_sealed(self, column: str, *, after_seq: int, limit: int) -> list[RawValue]:
        """Up to `limit` values of the sealed column named `column` (see SEALED_COLUMNS),
        in rows after `after_seq`, in seq order."""

    async def replace_sealed(
        self, column: str, *, seq: int, old: bytes | str, new: bytes | str, key: str | None = None
    ) -> bool:
        """Set the value of row `seq` to `new` if it still holds `old` (for claim entries,
        `key` replaces the patient control number too); False if it changed meanwhile."""
