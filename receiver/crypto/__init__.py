"""Encryption at rest: KEK files, wrapped data keys, sealed values and blind indexes.

A key-encryption key (KEK, from a 0600 file) wraps the data keys (DEKs) stored beside the data;
a `Keyring` of unwrapped DEKs seals each value with AES-256-GCM, bound to the row it lives in.
"""

from __future__ import annotations

from receiver.crypto.blind import blind_index, derive_index_key
from receiver.crypto.datakey import DataKey, WrappedKey, new_data_key, rewrap, unwrap, wrap
from receiver.crypto.envelope import is_sealed, is_sealed_text, row_aad, sealed_key_id
from receiver.crypto.kek import Kek, KekSet, format_kek_line, new_kek
from receiver.crypto.kekfile import create_kek, load_kek, load_or_create_kek, rotate_kek
from receiver.crypto.keyring import Keyring, unlock_keyring

__all__ = [
    "DataKey",
    "Kek",
    "KekSet",
    "Keyring",
    "WrappedKey",
    "blind_index",
    "create_kek",
    "derive_index_key",
    "format_kek_line",
    "is_sealed",
    "is_sealed_text",
    "load_kek",
    "load_or_create_kek",
    "new_data_key",
    "new_kek",
    "rewrap",
    "rotate_kek",
    "row_aad",
    "sealed_key_id",
    "unlock_keyring",
    "unwrap",
    "wrap",
]
