"""Pure sealing rules: which value is bound to which row, and how each kind of value is sealed.

Bytes columns hold sealed bytes; text columns the `$rcv$` text form; JSON columns (a dict in
the model) hold `{"$rcv": "<text form>"}`, the sealed JSON of the dict, so the adapters store
and return a dict as before. A value without its marker is one written before encryption and
reads as it is.
"""

from __future__ import annotations

from typing import Any

import orjson

from receiver.crypto import Keyring, row_aad
from receiver.crypto.envelope import is_sealed_text

WRAPPER_KEY = "$rcv"


def aad(table: str, column: str, *ids: str) -> bytes:
    """The associated data of a value: its table, column and row id (parts joined by NUL)."""
    return row_aad(table, column, "\x00".join(ids))


def seal_json(ring: Keyring, value: dict[str, Any], where: bytes) -> dict[str, Any]:
    """A dict sealed as the one-key wrapper a JSON column stores."""
    return {WRAPPER_KEY: ring.seal_text(orjson.dumps(value).decode("utf-8"), aad=where)}


def is_sealed_json(value: object) -> bool:
    """True if `value` (a JSON column's dict) is a sealed wrapper."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and isinstance(value.get(WRAPPER_KEY), str)
        and is_sealed_text(value[WRAPPER_KEY])
    )


def open_json(ring: Keyring, value: dict[str, Any], where: bytes) -> dict[str, Any]:
    """The dict a wrapper seals; a legacy (plain) dict as it is."""
    if not is_sealed_json(value):
        return value
    opened = orjson.loads(ring.open_text(value[WRAPPER_KEY], aad=where))
    if not isinstance(opened, dict):
        raise ValueError("a sealed JSON column holds an object")
    return opened


def seal_text(ring: Keyring, value: str | None, where: bytes) -> str | None:
    """Text sealed (None stays None)."""
    return None if value is None else ring.seal_text(value, aad=where)


def open_text(ring: Keyring, value: str | None, where: bytes) -> str | None:
    """Sealed text opened; legacy text and None as they are."""
    return None if value is None else ring.open_text(value, aad=where, allow_legacy=True)


def json_needs_reencryption(ring: Keyring, value: dict[str, Any]) -> bool:
    """True if a JSON column's dict is plain or sealed under an older data key."""
    if not is_sealed_json(value):
        return True
    return ring.needs_reencryption(str(value[WRAPPER_KEY]))
