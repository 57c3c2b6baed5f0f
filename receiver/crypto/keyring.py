"""The keyring: unwrapped data keys by id, sealing new values with the current one (AES-256-GCM)."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from receiver.crypto.datakey import DataKey, WrappedKey, unwrap
from receiver.crypto.envelope import (
    NONCE_BYTES,
    from_text,
    header_for,
    is_sealed,
    is_sealed_text,
    sealed_key_id,
    to_text,
    unpack,
)
from receiver.crypto.kek import Kek
from receiver.entropy import random_bytes
from receiver.errors import DecryptionError


class Keyring:
    """Seals with the current data key and opens with any loaded one.

    Every value is AES-256-GCM with a fresh random 96-bit nonce; the associated data is the
    value's header (format, data key id) followed by the caller's `aad` (where the value lives,
    see `row_aad`). NIST SP 800-38D caps random nonces at 2^32 seals per key: start a new data
    key (rotate-data-key) well before that.
    """

    def __init__(self, keys: Iterable[DataKey], *, current_id: str) -> None:
        self._aeads = {key.id: AESGCM(key.key) for key in keys}
        if current_id not in self._aeads:
            raise ValueError(f"current data key {current_id} is not among the keys given")
        self._current_id = current_id
        self._current_header = header_for(current_id)

    @property
    def current_id(self) -> str:
        """The id of the data key new values are sealed with."""
        return self._current_id

    @property
    def ids(self) -> frozenset[str]:
        """The ids of every loaded data key."""
        return frozenset(self._aeads)

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        """`plaintext` sealed with the current data key, bound to `aad` (never empty)."""
        if not aad:
            # Without it a value could be moved to any row: refuse rather than seal unbound.
            raise ValueError("seal needs the aad of where the value lives (see row_aad)")
        nonce = random_bytes(NONCE_BYTES)
        header = self._current_header
        sealed = self._aeads[self._current_id].encrypt(nonce, plaintext, header + aad)
        return header + nonce + sealed

    def open(self, blob: bytes, *, aad: bytes, allow_legacy: bool = False) -> bytes:
        """The plaintext of a sealed value, checked against `aad`.

        With `allow_legacy`, a value written before encryption (not sealed) is returned as it
        is. DecryptionError names the data key id when it is not loaded, and says so when
        authentication fails (the value, its key id or its `aad` differ from when sealed).
        """
        if allow_legacy and not is_sealed(blob):
            return blob
        envelope = unpack(blob)
        aead = self._aeads.get(envelope.dek_id)
        if aead is None:
            raise DecryptionError(
                f"value is sealed with data key {envelope.dek_id}, which is not loaded",
                key_id=envelope.dek_id,
            )
        try:
            return aead.decrypt(envelope.nonce, envelope.ciphertext, envelope.header + aad)
        except InvalidTag:
            raise DecryptionError(
                f"value sealed with data key {envelope.dek_id} failed authentication: "
                "it was altered, or it belongs to another row",
                key_id=envelope.dek_id,
            ) from None

    def seal_text(self, plaintext: str, *, aad: bytes) -> str:
        """`plaintext` (as UTF-8) sealed, in the text form for TEXT columns."""
        return to_text(self.seal(plaintext.encode("utf-8"), aad=aad))

    def open_text(self, text: str, *, aad: bytes, allow_legacy: bool = False) -> str:
        """The plaintext of a value made by `seal_text`; legacy text as is with `allow_legacy`."""
        if allow_legacy and not is_sealed_text(text):
            return text
        plaintext = self.open(from_text(text), aad=aad)
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            # Authenticated, so sealed by us: from bytes, not by seal_text.
            raise DecryptionError("sealed text does not hold UTF-8 text") from None

    def needs_reencryption(self, value: bytes | str) -> bool:
        """True if `value` is plaintext or sealed with a data key other than the current one."""
        return sealed_key_id(value) != self._current_id


def unlock_keyring(
    wrapped: Iterable[WrappedKey], keks: Iterable[Kek], *, current_id: str | None = None
) -> Keyring:
    """Unwrap every stored data key with `keks` into a keyring.

    The current key is `current_id`, or else the newest by `created_at` (then by id), which is
    the one rotate-data-key made last. ValueError when `wrapped` is empty.
    """
    loaded = list(keks)
    keys = [unwrap(w, loaded) for w in wrapped]
    if not keys:
        raise ValueError("no data key to unlock: create one with new_data_key and wrap")
    newest = max(keys, key=lambda k: (k.created_at, k.id))
    return Keyring(keys, current_id=current_id or newest.id)
