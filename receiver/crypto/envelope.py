"""The sealed-value format: a self-describing header, its text form, and telling it from plaintext.

Bytes (v1):  0xFF "RCV" 0x01 | data key id (8) | nonce (12) | AES-256-GCM ciphertext + tag (16)
Text:        "$rcv$" + base64url (padded) of those bytes

Why no legacy value can pass for sealed: legacy byte values are JSON (bodies and reports, parsed
before they are stored) and X12 documents (checked to start with "ISA"). 0xFF never occurs in
UTF-8; it can start JSON only as a UTF-16 or UTF-32 little-endian byte-order mark, FF FE, and
the marker is FF "R". Legacy text values are JSON (which starts with whitespace, `{`, `[`,
`"`, `-`, a digit, `t`, `f` or `n`), hex digests, `whsec_` secrets and vendor API keys and
client secrets (base64, hex or alphanumeric alphabets): none starts with `$`. And a value that
does carry a marker is parsed strictly and must authenticate, so a misread is a loud
DecryptionError, never a silent wrong answer.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import NamedTuple

from receiver.crypto.datakey import DEK_ID_BYTES
from receiver.errors import DecryptionError

MAGIC = b"\xffRCV"
VERSION = 1
TEXT_PREFIX = "$rcv$"
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + 1 + DEK_ID_BYTES + NONCE_BYTES
_V1_PREFIX = MAGIC + bytes([VERSION])
_ID_START = len(_V1_PREFIX)
_ID_END = _ID_START + DEK_ID_BYTES
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


class Envelope(NamedTuple):
    """A parsed sealed value: the header (authenticated as associated data) and its parts."""

    # A NamedTuple, not a frozen dataclass: it is built on every read, and a frozen
    # dataclass's __init__ costs about half as much as AES-GCM decrypting a 4 KB body.

    header: bytes
    dek_id: str
    nonce: bytes
    ciphertext: bytes  # with the GCM tag at the end


def is_sealed(value: bytes) -> bool:
    """True if `value` is a sealed value: it starts with the marker, which no legacy value has."""
    return value[: len(MAGIC)] == MAGIC


def is_sealed_text(value: str) -> bool:
    """True if `value` is the text form of a sealed value."""
    return value.startswith(TEXT_PREFIX)


def header_for(dek_id: str) -> bytes:
    """The magic, version and data key id that start (and authenticate) a sealed value."""
    return _V1_PREFIX + bytes.fromhex(dek_id)


def unpack(value: bytes) -> Envelope:
    """Split sealed bytes into their parts; DecryptionError when the header is malformed."""
    if value[:_ID_START] != _V1_PREFIX:
        if not is_sealed(value):
            raise DecryptionError("value is not sealed")
        if len(value) == len(MAGIC):
            raise DecryptionError("sealed value is truncated")
        raise DecryptionError(f"sealed value has unknown format version {value[len(MAGIC)]}")
    if len(value) < HEADER_BYTES + TAG_BYTES:
        raise DecryptionError("sealed value is truncated")
    return Envelope(
        value[:_ID_END],
        value[_ID_START:_ID_END].hex(),
        value[_ID_END:HEADER_BYTES],
        value[HEADER_BYTES:],
    )


def to_text(sealed: bytes) -> str:
    """The text form of sealed bytes, safe for TEXT columns on SQLite and PostgreSQL."""
    return TEXT_PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii")


def from_text(value: str) -> bytes:
    """The sealed bytes of a text form; DecryptionError when it is not one."""
    if not is_sealed_text(value):
        raise DecryptionError("value is not sealed")
    try:
        return base64.b64decode(value[len(TEXT_PREFIX) :], altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("sealed text is not valid base64url") from None


def sealed_key_id(value: bytes | str) -> str | None:
    """The data key id a sealed value (bytes or text) was made with; None for plaintext."""
    if isinstance(value, str):
        return unpack(from_text(value)).dek_id if is_sealed_text(value) else None
    return unpack(value).dek_id if is_sealed(value) else None


def row_aad(table: str, column: str, row_id: str) -> bytes:
    """Associated data binding a value to where it lives, so it cannot be moved to another row.

    `table` and `column` are SQL identifiers, so the "." and NUL separators are unambiguous.
    Use an id fixed before the insert (the event id, the account name), not a database sequence.
    """
    if not (_IDENTIFIER.fullmatch(table) and _IDENTIFIER.fullmatch(column)):
        raise ValueError("table and column must be lower-case SQL identifiers")
    return f"{table}.{column}\x00{row_id}".encode("utf-8", "surrogatepass")
