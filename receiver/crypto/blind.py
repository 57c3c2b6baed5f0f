"""Blind indexes: keyed, deterministic digests that keep equality lookups on values kept secret.

Use one where a column must be found by exact value but could carry PHI: a dedup key built from
a member id or a patient control number, say. The column then holds `blind_index(value, key)`;
a lookup computes the same digest. It reveals which rows share a value, and nothing else to
anyone without the key (a plain hash of a member id could be reversed by trying every id).
Never use one where the value itself must be read back: seal that instead.

Derive the key from a secret that outlives KEK rotation: a dedicated data key, wrapped by the
KEK like any other and rewrapped (never replaced) when the KEK changes. A key derived from the
KEK itself would change every index at each KEK rotation, and a digest cannot be recomputed
from the plaintext it no longer has.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INDEX_KEY_BYTES = 32
_LABEL = b"receiver blind index v1"


def derive_index_key(secret: bytes) -> bytes:
    """The HMAC key for blind indexes: HKDF-SHA256 of `secret` (at least 32 bytes) and a label.

    The fixed label keeps the index key apart from every other use of `secret`.
    """
    if len(secret) < INDEX_KEY_BYTES:
        raise ValueError(f"a blind-index secret is at least {INDEX_KEY_BYTES} bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=INDEX_KEY_BYTES, salt=None, info=_LABEL)
    return hkdf.derive(secret)


def blind_index(value: str, key: bytes) -> str:
    """HMAC-SHA256 of `value` (UTF-8) under `key`, as 43 base64url characters without padding."""
    digest = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
