"""Key-encryption keys (KEKs): the value, its derived key id, and the text of a KEK file."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from receiver.errors import ConfigError

KEY_BYTES = 32  # AES-256
LINE_TAG = "receiver-kek-v1"
FILE_HEADER = (
    "# receiver key-encryption keys. The first key line is the current key; the lines after it\n"
    "# are older keys that may still wrap stored data keys. Keep this file secret and backed up\n"
    "# apart from the database: without it, nothing encrypted can be read again.\n"
)

# A fixed label keeps the id from being a plain hash of the key, usable elsewhere.
_KID_LABEL = b"receiver key-encryption key id v1\x00"
_KID_HEX_CHARS = 16


@dataclass(frozen=True, slots=True)
class Kek:
    """A 256-bit key-encryption key and its id (derived from the key, never the key itself)."""

    kid: str
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class KekSet:
    """The loaded KEKs, current first (it wraps new data keys); the rest only unwrap."""

    keys: tuple[Kek, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a KekSet needs at least one key")
        if len({k.kid for k in self.keys}) != len(self.keys):
            raise ValueError("a KekSet cannot hold one key id twice")

    @property
    def current(self) -> Kek:
        """The KEK that wraps new data keys."""
        return self.keys[0]

    @property
    def ids(self) -> tuple[str, ...]:
        """Every loaded key id, current first."""
        return tuple(k.kid for k in self.keys)

    def find(self, kid: str) -> Kek | None:
        """The KEK with id `kid`, or None when it is not loaded."""
        return next((k for k in self.keys if k.kid == kid), None)

    def __iter__(self) -> Iterator[Kek]:
        return iter(self.keys)


def kek_id(key: bytes) -> str:
    """The key id of `key`: 16 hex digits of SHA-256 over a fixed label and the key."""
    return hashlib.sha256(_KID_LABEL + key).hexdigest()[:_KID_HEX_CHARS]


def kek_from_bytes(key: bytes) -> Kek:
    """A KEK from 32 key bytes, with its derived id."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key-encryption key is {KEY_BYTES} bytes, not {len(key)}")
    return Kek(kid=kek_id(key), key=key)


def new_kek(random: Callable[[int], bytes] = os.urandom) -> Kek:
    """A fresh KEK from `random` (the OS CSPRNG unless a test injects one)."""
    return kek_from_bytes(random(KEY_BYTES))


def format_kek_line(kek: Kek) -> str:
    """One KEK as a file line: `receiver-kek-v1:<kid>:<base64 of the 32 key bytes>`."""
    return f"{LINE_TAG}:{kek.kid}:{base64.b64encode(kek.key).decode('ascii')}"


def format_kek_text(keks: KekSet) -> str:
    """A whole KEK file: the header comment, then one line per key, current first."""
    return FILE_HEADER + "".join(format_kek_line(k) + "\n" for k in keks)


def parse_kek_text(text: str, *, source: str) -> KekSet:
    """Parse a KEK file's text; ConfigError naming `source` and the line, never the key bytes.

    Blank lines and `#` comments are skipped; the first key line is the current key.
    """
    keys: list[Kek] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kek = _parse_line(line, where=f"encryption key file {source} line {number}")
        if any(k.kid == kek.kid for k in keys):
            raise ConfigError(
                f"encryption key file {source} line {number}: key {kek.kid} appears twice"
            )
        keys.append(kek)
    if not keys:
        raise ConfigError(f"encryption key file {source} holds no {LINE_TAG} key line")
    return KekSet(tuple(keys))


def _parse_line(line: str, *, where: str) -> Kek:
    tag, _, rest = line.partition(":")
    kid, _, encoded = rest.partition(":")
    if tag != LINE_TAG or not kid or not encoded:
        raise ConfigError(f"{where}: not a {LINE_TAG}:<key id>:<base64 key> line")
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: the key is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{where}: the key must be {KEY_BYTES} bytes, not {len(key)}")
    kek = kek_from_bytes(key)
    if kek.kid != kid:
        # The id as written is not echoed: a mangled line may hold key material in that field.
        raise ConfigError(f"{where}: the key id does not match its key (altered or mistyped)")
    return kek
