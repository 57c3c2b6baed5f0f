"""Blind indexes: deterministic under one key, unlinkable across keys, HKDF-derived keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest

from receiver.crypto.blind import blind_index, derive_index_key

SECRET = bytes(range(32))


def _hkdf_sha256(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 written out, to check the library call against the spec."""
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


class TestDeriveIndexKey:
    def test_is_rfc5869_hkdf_with_the_fixed_label(self) -> None:
        assert derive_index_key(SECRET) == _hkdf_sha256(SECRET, b"receiver blind index v1")
        assert derive_index_key(SECRET) != SECRET

    def test_refuses_a_short_secret(self) -> None:
        with pytest.raises(ValueError, match="at least 32 bytes"):
            derive_index_key(b"short")


class TestBlindIndex:
    def test_is_deterministic_hmac_sha256_in_base64url(self) -> None:
        key = derive_index_key(SECRET)
        value = "stedi:tx-123:transaction.processed.v2"
        index = blind_index(value, key)
        assert index == blind_index(value, key)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", index)
        digest = hmac.new(key, value.encode(), hashlib.sha256).digest()
        assert index == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def test_differs_by_value_and_by_key(self) -> None:
        key, other = derive_index_key(SECRET), derive_index_key(SECRET[::-1])
        assert blind_index("W123456789", key) != blind_index("W123456780", key)
        assert blind_index("W123456789", key) != blind_index("W123456789", other)

    def test_is_not_a_plain_hash(self) -> None:
        value = "W123456789"
        plain = hashlib.sha256(value.encode()).digest()
        assert blind_index(value, derive_index_key(SECRET)) != (
            base64.urlsafe_b64encode(plain).rstrip(b"=").decode()
        )
