"""Data keys: wrapped by a KEK, unwrapped only by it, rewrapped without changing the key."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from receiver.crypto.datakey import DataKey, new_data_key, rewrap, unwrap, wrap
from receiver.crypto.envelope import row_aad
from receiver.crypto.kek import new_kek
from receiver.crypto.keyring import Keyring, unlock_keyring
from receiver.errors import DecryptionError, ReceiverError

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


class TestNewDataKey:
    def test_takes_its_id_and_key_from_the_injected_random(self) -> None:
        stream = iter([b"\x01" * 8, b"\x02" * 32])
        dek = new_data_key(T0, lambda n: next(stream))
        assert (dek.id, dek.key, dek.created_at) == ("01" * 8, b"\x02" * 32, T0)

    def test_repr_never_shows_the_key(self) -> None:
        dek = new_data_key(T0)
        assert dek.key.hex() not in repr(dek)
        assert str(dek.key) not in repr(dek)

    @pytest.mark.parametrize(("dek_id", "key"), [("ABC", b"k" * 32), ("0" * 16, b"k" * 16)])
    def test_refuses_bad_shapes(self, dek_id: str, key: bytes) -> None:
        with pytest.raises(ValueError, match="data key"):
            DataKey(dek_id, key, T0)


class TestWrap:
    def test_round_trip_records_both_ids(self) -> None:
        dek, kek = new_data_key(T0), new_kek()
        wrapped = wrap(dek, kek)
        assert (wrapped.dek_id, wrapped.kek_id, wrapped.created_at) == (dek.id, kek.kid, T0)
        assert dek.key not in wrapped.material
        assert len(wrapped.material) == 61
        assert unwrap(wrapped, [new_kek(), kek]) == dek

    def test_fresh_nonce_each_time(self) -> None:
        dek, kek = new_data_key(T0), new_kek()
        assert wrap(dek, kek).material != wrap(dek, kek).material


class TestUnwrap:
    def test_missing_kek_names_the_id_needed(self) -> None:
        dek, kek, other = new_data_key(T0), new_kek(), new_kek()
        with pytest.raises(DecryptionError) as caught:
            unwrap(wrap(dek, kek), [other])
        message = str(caught.value)
        assert f"wrapped by key-encryption key {kek.kid}, which is not loaded" in message
        assert f"loaded: {other.kid}" in message
        assert caught.value.key_id == kek.kid
        assert isinstance(caught.value, ReceiverError)
        assert caught.value.status_code == 503

    def test_wrong_kek_under_the_right_id_fails_authentication(self) -> None:
        dek, kek, other = new_data_key(T0), new_kek(), new_kek()
        forged = dataclasses.replace(wrap(dek, kek), kek_id=other.kid)
        with pytest.raises(DecryptionError, match=f"failed authentication under .* {other.kid}"):
            unwrap(forged, [other, kek])

    @pytest.mark.parametrize("index", [1, 12, 13, 44, 60])
    def test_tampered_material_fails_authentication(self, index: int) -> None:
        dek, kek = new_data_key(T0), new_kek()
        wrapped = wrap(dek, kek)
        tampered = dataclasses.replace(wrapped, material=_flip(wrapped.material, index))
        with pytest.raises(DecryptionError, match="failed authentication"):
            unwrap(tampered, [kek])

    def test_a_wrapped_key_relabelled_as_another_data_key_fails(self) -> None:
        kek = new_kek()
        first, second = wrap(new_data_key(T0), kek), wrap(new_data_key(T0), kek)
        swapped = dataclasses.replace(first, dek_id=second.dek_id)
        with pytest.raises(DecryptionError, match=f"data key {second.dek_id} failed"):
            unwrap(swapped, [kek])

    @pytest.mark.parametrize(
        "change", [{"material": b"\x02" + b"\x00" * 60}, {"material": b"\x01"}, {"dek_id": "x"}]
    )
    def test_malformed_rows_are_clear_errors(self, change: dict[str, object]) -> None:
        kek = new_kek()
        wrapped = dataclasses.replace(wrap(new_data_key(T0), kek), **change)
        with pytest.raises(DecryptionError, match="not in the wrapped-key format v1"):
            unwrap(wrapped, [kek])


class TestRewrap:
    def test_every_value_stays_readable_under_the_new_kek_alone(self) -> None:
        old_kek, new = new_kek(), new_kek()
        deks = [new_data_key(T0), new_data_key(T0.replace(day=2))]
        keyrings = [Keyring(deks, current_id=dek.id) for dek in deks]
        sealed = [
            (ring.seal(f"value {i}".encode(), aad=row_aad("t", "c", str(i))), i)
            for i, ring in enumerate(keyrings)
        ]
        rewrapped = [rewrap(wrap(dek, old_kek), [old_kek], new) for dek in deks]
        assert {w.kek_id for w in rewrapped} == {new.kid}
        keyring = unlock_keyring(rewrapped, [new])
        for blob, i in sealed:
            assert keyring.open(blob, aad=row_aad("t", "c", str(i))) == f"value {i}".encode()

    def test_leaves_a_key_already_under_the_new_kek_unchanged(self) -> None:
        kek = new_kek()
        wrapped = wrap(new_data_key(T0), kek)
        assert rewrap(wrapped, [], kek) is wrapped

    def test_needs_the_old_kek(self) -> None:
        old, new, unrelated = new_kek(), new_kek(), new_kek()
        with pytest.raises(DecryptionError, match=old.kid):
            rewrap(wrap(new_data_key(T0), old), [unrelated], new)
