"""Sealed values: round trips, every kind of tampering a clear error, legacy plaintext never
taken for sealed, and the key id each value carries."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import pytest

from receiver.crypto.datakey import new_data_key, wrap
from receiver.crypto.envelope import (
    HEADER_BYTES,
    is_sealed,
    is_sealed_text,
    row_aad,
    sealed_key_id,
    to_text,
)
from receiver.crypto.kek import new_kek
from receiver.crypto.keyring import Keyring, unlock_keyring
from receiver.errors import DecryptionError
from tests.conftest import FIXTURES

T0 = datetime(2026, 12, 1, tzinfo=UTC)
AAD = row_aad("inbound_events", "body", "evt_01")
CANARY = b"CANARY-Jane-Q-Public-MEMBER-ID-W123456789"

# Every shape a row written before encryption can hold.
LEGACY_BYTES = [
    b"",
    b'{"id":"evt_1","detail":{}}',
    b' \n\t{"a":1}',
    b"[]",
    b"ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *261201*1200*^*00501~",
    b"\r\nISA*00*~",
    '{"name":"Zoë Ñúñez"}'.encode(),
    "ISA*00*NOM*Zoé~".encode("latin-1"),  # X12 need not be UTF-8
    '{"a":"Zoë"}'.encode("utf-16"),  # json.loads takes UTF-16 with its FF FE byte-order mark
    '{"a":1}'.encode("utf-32"),
    b"\xef\xbb\xbf{}",  # UTF-8 byte-order mark
    *(p.read_bytes() for p in sorted(FIXTURES.rglob("*")) if p.is_file()),
]
LEGACY_TEXT = [
    "",
    '{"kind":"header","name":"x-api-key","hash":"ab12"}',
    ' ["claim.*"]',
    '"a string"',
    "-1.5",
    "0",
    "true",
    "false",
    "null",
    "ISA*00*          *00*~",
    "whsec_" + base64.b64encode(os.urandom(24)).decode(),
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "sk_live_51HxYz0A1b2C3d4E5f6G7h8I9j0",
    "AbCdEf0123456789-_AbCdEf0123456789",
    base64.b64encode(os.urandom(30)).decode(),
    base64.urlsafe_b64encode(os.urandom(30)).decode(),
    os.urandom(32).hex(),
    "Key 01HZX3Q9X7ZT4A5B6C7D8E9F0G",
    "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    "rcv:not-sealed",
    "_1JDVgEAAAAAAAAAAAAAAAAAAAA",  # the base64url of the marker, without the text prefix
]


def _keyring() -> tuple[Keyring, str]:
    dek = new_data_key(T0)
    return Keyring([dek], current_id=dek.id), dek.id


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x80]) + data[index + 1 :]


class TestRoundTrip:
    @pytest.mark.parametrize("size", [0, 4096, 1024 * 1024])
    def test_bytes(self, size: int) -> None:
        keyring, _ = _keyring()
        plaintext = os.urandom(size)
        sealed = keyring.seal(plaintext, aad=AAD)
        assert is_sealed(sealed)
        assert len(sealed) == size + HEADER_BYTES + 16
        assert keyring.open(sealed, aad=AAD) == plaintext

    @pytest.mark.parametrize("size", [0, 4096, 1024 * 1024])
    def test_text(self, size: int) -> None:
        keyring, _ = _keyring()
        plaintext = ("Zoë " * size)[:size]
        sealed = keyring.seal_text(plaintext, aad=AAD)
        assert sealed.isascii()
        assert is_sealed_text(sealed)
        assert keyring.open_text(sealed, aad=AAD) == plaintext

    def test_refuses_to_seal_without_aad(self) -> None:
        keyring, _ = _keyring()
        with pytest.raises(ValueError, match="needs the aad"):
            keyring.seal(b"body", aad=b"")

    def test_same_plaintext_seals_differently_each_time(self) -> None:
        keyring, _ = _keyring()
        assert keyring.seal(b"same", aad=AAD) != keyring.seal(b"same", aad=AAD)

    def test_the_canary_is_not_findable_in_sealed_bytes_or_text(self) -> None:
        keyring, _ = _keyring()
        body = (b'{"member":"' + CANARY + b'"}') * 100
        sealed, text = keyring.seal(body, aad=AAD), keyring.seal_text(body.decode(), aad=AAD)
        for needle in (CANARY, CANARY[:8], CANARY.lower()):
            assert needle not in sealed
            assert needle.decode() not in text
        for encoded in (base64.b64encode(CANARY)[:12], base64.urlsafe_b64encode(CANARY)[:12]):
            assert encoded not in sealed
            assert encoded.decode() not in text


class TestOpenRefuses:
    @pytest.mark.parametrize("where", ["nonce", "ciphertext", "tag"])
    def test_tampered_bytes(self, where: str) -> None:
        keyring, dek_id = _keyring()
        sealed = keyring.seal(b"x" * 64, aad=AAD)
        index = {"nonce": HEADER_BYTES - 1, "ciphertext": HEADER_BYTES + 3, "tag": -1}[where]
        with pytest.raises(DecryptionError, match=f"data key {dek_id} failed authentication"):
            keyring.open(_flip(sealed, index % len(sealed)), aad=AAD)

    def test_tampered_aad(self) -> None:
        keyring, _ = _keyring()
        sealed = keyring.seal(b"body", aad=AAD)
        with pytest.raises(DecryptionError, match="altered, or it belongs to another row"):
            keyring.open(sealed, aad=AAD + b"x")

    @pytest.mark.parametrize(
        "other",
        [
            row_aad("inbound_events", "body", "evt_02"),
            row_aad("inbound_events", "headers", "evt_01"),
            row_aad("documents", "body", "evt_01"),
        ],
    )
    def test_a_value_moved_to_another_row_or_column(self, other: bytes) -> None:
        keyring, _ = _keyring()
        text = keyring.seal_text("secret", aad=AAD)
        with pytest.raises(DecryptionError, match="failed authentication"):
            keyring.open_text(text, aad=other)

    def test_a_missing_data_key_is_named(self) -> None:
        writer, dek_id = _keyring()
        reader, _ = _keyring()
        with pytest.raises(DecryptionError, match=f"data key {dek_id}, which is not loaded") as e:
            reader.open(writer.seal(b"x", aad=AAD), aad=AAD)
        assert e.value.key_id == dek_id

    def test_a_forged_key_id_in_the_header(self) -> None:
        first, second = new_data_key(T0), new_data_key(T0)
        keyring = Keyring([first, second], current_id=first.id)
        sealed = keyring.seal(b"x", aad=AAD)
        forged = sealed[:5] + bytes.fromhex(second.id) + sealed[13:]
        with pytest.raises(DecryptionError, match=f"data key {second.id} failed authentication"):
            keyring.open(forged, aad=AAD)

    @pytest.mark.parametrize(
        ("blob", "message"),
        [
            (b"\xffRCV\x02" + b"\x00" * 40, "unknown format version 2"),
            (b"\xffXYZ\x01" + b"\x00" * 40, "not sealed"),
            (b"\xffRCV", "truncated"),
            (b"\xffRCV\x01" + b"\x00" * 35, "truncated"),
            (b'{"plain":1}', "not sealed"),
        ],
    )
    def test_malformed_values(self, blob: bytes, message: str) -> None:
        keyring, _ = _keyring()
        with pytest.raises(DecryptionError, match=message):
            keyring.open(blob, aad=AAD)

    @pytest.mark.parametrize("text", ["$rcv$!!!", "$rcv$_1JDVgE", "plain"])
    def test_malformed_text(self, text: str) -> None:
        keyring, _ = _keyring()
        with pytest.raises(DecryptionError):
            keyring.open_text(text, aad=AAD)

    def test_errors_never_carry_the_plaintext(self) -> None:
        keyring, _ = _keyring()
        sealed = keyring.seal(CANARY, aad=AAD)
        for reader, aad in ((keyring, b"elsewhere"), (_keyring()[0], AAD)):
            with pytest.raises(DecryptionError) as caught:
                reader.open(sealed, aad=aad)
            assert CANARY.decode() not in str(caught.value)

    def test_open_text_of_a_value_sealed_from_bytes_that_are_not_utf8(self) -> None:
        keyring, _ = _keyring()
        text = to_text(keyring.seal(b"\xff\xfe", aad=AAD))
        with pytest.raises(DecryptionError, match="does not hold UTF-8 text"):
            keyring.open_text(text, aad=AAD)


class TestLegacyPlaintext:
    @pytest.mark.parametrize("value", LEGACY_BYTES)
    def test_legacy_bytes_are_never_taken_for_sealed(self, value: bytes) -> None:
        keyring, _ = _keyring()
        assert not is_sealed(value)
        assert sealed_key_id(value) is None
        assert keyring.needs_reencryption(value)
        assert keyring.open(value, aad=AAD, allow_legacy=True) is value

    @pytest.mark.parametrize("value", LEGACY_TEXT)
    def test_legacy_text_is_never_taken_for_sealed(self, value: str) -> None:
        keyring, _ = _keyring()
        assert not is_sealed_text(value)
        assert sealed_key_id(value) is None
        assert keyring.needs_reencryption(value)
        assert keyring.open_text(value, aad=AAD, allow_legacy=True) is value

    def test_fixtures_cover_json_and_x12(self) -> None:
        starts = {value.lstrip()[:3] for value in LEGACY_BYTES}
        assert b"ISA" in starts
        assert any(s.startswith(b"{") for s in starts)

    def test_without_allow_legacy_plaintext_is_refused(self) -> None:
        keyring, _ = _keyring()
        with pytest.raises(DecryptionError, match="not sealed"):
            keyring.open_text("whsec_abc", aad=AAD)

    def test_allow_legacy_still_checks_sealed_values(self) -> None:
        keyring, _ = _keyring()
        sealed = keyring.seal(b"x", aad=AAD)
        with pytest.raises(DecryptionError, match="failed authentication"):
            keyring.open(sealed, aad=b"elsewhere", allow_legacy=True)


class TestNeedsReencryption:
    def test_only_values_under_the_current_key_are_done(self) -> None:
        old, new = new_data_key(T0), new_data_key(T0.replace(day=2))
        before = Keyring([old], current_id=old.id)
        after = Keyring([old, new], current_id=new.id)
        old_value, new_value = before.seal(b"a", aad=AAD), after.seal_text("b", aad=AAD)
        assert (sealed_key_id(old_value), sealed_key_id(new_value)) == (old.id, new.id)
        assert after.needs_reencryption(old_value)
        assert not after.needs_reencryption(new_value)
        assert after.open(old_value, aad=AAD) == b"a"


class TestUnlockKeyring:
    def test_the_newest_data_key_is_current_unless_named(self) -> None:
        kek = new_kek()
        old, new = new_data_key(T0), new_data_key(T0.replace(day=2))
        wrapped = [wrap(new, kek), wrap(old, kek)]
        assert unlock_keyring(wrapped, [kek]).current_id == new.id
        assert unlock_keyring(wrapped, [kek], current_id=old.id).current_id == old.id
        assert unlock_keyring(wrapped, [kek]).ids == {old.id, new.id}

    def test_a_wrong_kek_is_a_clear_error(self) -> None:
        kek = new_kek()
        with pytest.raises(DecryptionError, match=f"key-encryption key {kek.kid}, which is not"):
            unlock_keyring([wrap(new_data_key(T0), kek)], [new_kek()])

    def test_no_data_key_at_all(self) -> None:
        with pytest.raises(ValueError, match="no data key"):
            unlock_keyring([], [new_kek()])

    def test_the_current_key_must_be_loaded(self) -> None:
        with pytest.raises(ValueError, match="not among the keys"):
            Keyring([new_data_key(T0)], current_id="0" * 16)
