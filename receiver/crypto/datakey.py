"""Data keys (DEKs): made at random, wrapped by a KEK with AES-256-GCM, unwrapped, rewrapped."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from receiver.crypto.kek import Kek
from receiver.errors import DecryptionError

DEK_BYTES = 32  # AES-256
DEK_ID_BYTES = 8  # stored raw in every sealed value's header
_DEK_ID = re.compile(r"[0-9a-f]{16}")
_WRAP_VERSION = b"\x01"
_NONCE_BYTES = 12
_WRAPPED_BYTES = len(_WRAP_VERSION) + _NONCE_BYTES + DEK_BYTES + 16  # + GCM tag
_WRAP_LABEL = b"receiver data key v1\x00"


@dataclass(frozen=True, slots=True)
class DataKey:
    """An unwrapped AES-256 data key; `id` is 16 hex digits, recorded with every ciphertext."""

    id: str
    key: bytes = field(repr=False)
    created_at: datetime

    def __post_init__(self) -> None:
        if not is_dek_id(self.id):
            raise ValueError("a data key id is 16 lowercase hex digits")
        if len(self.key) != DEK_BYTES:
            raise ValueError(f"a data key is {DEK_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key as stored: its id, the KEK that wraps it, and the wrapped bytes.

    `material` is version (1 byte) + nonce (12) + AES-GCM ciphertext and tag (48), with the
    data key id and KEK id bound as associated data, so no row can borrow another's key.
    """

    dek_id: str
    kek_id: str
    created_at: datetime
    material: bytes


def is_dek_id(value: str) -> bool:
    """True if `value` has the shape of a data key id."""
    return _DEK_ID.fullmatch(value) is not None


def new_data_key(now: datetime, random: Callable[[int], bytes] = os.urandom) -> DataKey:
    """A fresh data key created at `now`, its id and key from `random` (the OS CSPRNG)."""
    return DataKey(id=random(DEK_ID_BYTES).hex(), key=random(DEK_BYTES), created_at=now)


def wrap(dek: DataKey, kek: Kek, *, random: Callable[[int], bytes] = os.urandom) -> WrappedKey:
    """Encrypt `dek` under `kek` for storage."""
    nonce = random(_NONCE_BYTES)
    sealed = AESGCM(kek.key).encrypt(nonce, dek.key, _wrap_aad(dek.id, kek.kid))
    return WrappedKey(dek.id, kek.kid, dek.created_at, _WRAP_VERSION + nonce + sealed)


def unwrap(wrapped: WrappedKey, keks: Iterable[Kek]) -> DataKey:
    """Decrypt a stored data key with whichever of `keks` wrapped it.

    DecryptionError naming the KEK id needed when that KEK is not among `keks`, and saying
    that authentication failed when the stored key was altered or belongs to another id.
    """
    loaded = list(keks)
    kek = next((k for k in loaded if k.kid == wrapped.kek_id), None)
    if kek is None:
        known = ", ".join(k.kid for k in loaded) or "none"
        raise DecryptionError(
            f"data key {wrapped.dek_id} is wrapped by key-encryption key {wrapped.kek_id}, "
            f"which is not loaded (loaded: {known})",
            key_id=wrapped.kek_id,
        )
    material = wrapped.material
    if (
        len(material) != _WRAPPED_BYTES
        or material[:1] != _WRAP_VERSION
        or not is_dek_id(wrapped.dek_id)
    ):
        raise DecryptionError(
            f"data key {wrapped.dek_id} is not in the wrapped-key format v1", key_id=kek.kid
        )
    nonce, sealed = material[1 : 1 + _NONCE_BYTES], material[1 + _NONCE_BYTES :]
    try:
        key = AESGCM(kek.key).decrypt(nonce, sealed, _wrap_aad(wrapped.dek_id, kek.kid))
    except InvalidTag:
        raise DecryptionError(
            f"data key {wrapped.dek_id} failed authentication under key-encryption key "
            f"{kek.kid}: the stored key was altered or belongs to another id",
            key_id=kek.kid,
        ) from None
    return DataKey(id=wrapped.dek_id, key=key, created_at=wrapped.created_at)


def rewrap(
    wrapped: WrappedKey,
    old_keks: Iterable[Kek],
    new_kek: Kek,
    *,
    random: Callable[[int], bytes] = os.urandom,
) -> WrappedKey:
    """`wrapped` under `new_kek` (unchanged if it already is); the data key itself is kept,
    so every value sealed with it stays readable."""
    if wrapped.kek_id == new_kek.kid:
        return wrapped
    return wrap(unwrap(wrapped, [*old_keks, new_kek]), new_kek, random=random)


def _wrap_aad(dek_id: str, kid: str) -> bytes:
    return _WRAP_LABEL + dek_id.encode("ascii") + b"\x00" + kid.encode("ascii")
