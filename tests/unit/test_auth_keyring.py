"""Signing key windows and rotation (pure, on an explicit `now`), and the KeyRing re-reading
its key file when it changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from receiver.auth.keyring import KeyRing, key_windows, rotated, view_at
from receiver.auth.keys import KeyEntry, new_signing_key, write_key_file
from receiver.auth.tokens import LEEWAY_SECONDS
from receiver.errors import ConfigError

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TTL = 3600
DELAY = 900


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def first() -> KeyEntry:
    return KeyEntry(new_signing_key())


def rotate(entries: tuple[KeyEntry, ...], now: datetime) -> tuple[KeyEntry, ...]:
    return rotated(entries, now, delay_seconds=DELAY, token_ttl_seconds=TTL)


class TestRotation:
    def test_one_key_signs_from_the_start_for_ever(self, first: KeyEntry) -> None:
        (window,) = key_windows((first,), TTL)
        assert (window.signs_from, window.signs_until, window.verifies_until) == (None, None, None)
        view = view_at((first,), T0, TTL)
        assert view.signing is first.key
        assert list(view.verifying) == [first.key.kid]
        assert (view.valid_from, view.valid_until) == (None, None)

    def test_the_new_key_is_published_at_once_and_signs_after_the_delay(
        self, first: KeyEntry
    ) -> None:
        entries = rotate((first,), T0)
        new = entries[1]
        assert new.activates_at == at(DELAY)
        before = view_at(entries, at(DELAY - 1), TTL)
        assert before.signing is first.key
        assert list(before.verifying) == [first.key.kid, new.key.kid]
        after = view_at(entries, at(DELAY), TTL)
        assert after.signing is new.key
        assert list(after.verifying) == [first.key.kid, new.key.kid]

    def test_the_old_key_verifies_until_its_last_token_expires(self, first: KeyEntry) -> None:
        entries = rotate((first,), T0)
        last_token_expiry = at(DELAY + TTL)  # signed just before the switch
        still = view_at(entries, last_token_expiry + timedelta(seconds=LEEWAY_SECONDS - 1), TTL)
        assert first.key.kid in still.verifying
        gone = view_at(entries, last_token_expiry + timedelta(seconds=LEEWAY_SECONDS), TTL)
        assert list(gone.verifying) == [entries[1].key.kid]
        (old, _) = key_windows(entries, TTL)
        assert [old.state_at(m) for m in (T0, at(DELAY), at(DELAY + TTL + 30))] == [
            "signing",
            "verifying",
            "retired",
        ]

    def test_a_view_says_until_when_it_holds(self, first: KeyEntry) -> None:
        entries = rotate((first,), T0)
        view = view_at(entries, at(10), TTL)
        assert (view.valid_from, view.valid_until) == (None, at(DELAY))
        later = view_at(entries, at(DELAY + 5), TTL)
        assert (later.valid_from, later.valid_until) == (at(DELAY), at(DELAY + TTL + 30))
        assert later.holds_at(at(DELAY))
        assert not later.holds_at(at(DELAY - 1))

    def test_another_rotation_waits_for_the_pending_key(self, first: KeyEntry) -> None:
        entries = rotate((first,), T0)
        with pytest.raises(ConfigError, match="still waiting to sign"):
            rotate(entries, at(DELAY - 1))
        assert len(rotate(entries, at(DELAY))) == 3

    def test_rotation_drops_retired_keys(self, first: KeyEntry) -> None:
        entries = rotate((first,), T0)
        later = rotate(entries, at(DELAY + TTL + 30))
        assert [e.key.kid for e in later] == [entries[1].key.kid, later[1].key.kid]

    def test_a_clock_behind_the_rotation_still_signs_with_the_first_key(self) -> None:
        pending = (KeyEntry(new_signing_key(), at(60)), KeyEntry(new_signing_key(), at(120)))
        assert view_at(pending, T0, TTL).signing is pending[0].key

    def test_keys_sign_in_activation_order_whatever_the_file_order(self, first: KeyEntry) -> None:
        late = KeyEntry(new_signing_key(), at(100))
        assert view_at((late, first), at(50), TTL).signing is first.key
        assert view_at((late, first), at(100), TTL).signing is late.key


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestKeyRing:
    def test_a_rewritten_key_file_is_seen_after_the_reload_interval(
        self, tmp_path: Path, first: KeyEntry
    ) -> None:
        path = tmp_path / "keys.pem"
        write_key_file(path, (first,), replace=False)
        clock = FakeMonotonic()
        ring = KeyRing(path, token_ttl_seconds=TTL, reload_seconds=10, monotonic=clock)
        view = ring.at(T0)
        assert ring.at(T0) is view  # cached: nothing to recompute
        entries = rotate((first,), T0)
        write_key_file(path, entries, replace=True)
        clock.now += 9
        assert list(ring.at(T0).verifying) == [first.key.kid]
        clock.now += 1
        with capture_logs() as logs:
            assert list(ring.at(T0).verifying) == [first.key.kid, entries[1].key.kid]
        assert logs[0]["event"] == "signing_keys.reloaded"
        assert ring.at(at(DELAY)).signing.kid == entries[1].key.kid

    def test_an_unusable_new_file_keeps_the_keys_in_force(
        self, tmp_path: Path, first: KeyEntry
    ) -> None:
        path = tmp_path / "keys.pem"
        write_key_file(path, (first,), replace=False)
        ring = KeyRing(path, token_ttl_seconds=TTL, reload_seconds=0)
        path.write_text("half a file SECRET\n-----BEGIN PRIVATE KEY-----\n")
        with capture_logs() as logs:
            assert ring.at(T0).signing.kid == first.key.kid
            assert ring.at(T0).signing.kid == first.key.kid
        (warning,) = logs  # once per change, not per request
        assert warning["event"] == "signing_keys.reload_failed"
        assert "SECRET" not in repr(warning)
        path.unlink()
        with capture_logs() as logs:
            assert ring.at(T0).signing.kid == first.key.kid
        assert [e["event"] for e in logs] == ["signing_keys.unreadable"]

    def test_a_missing_file_at_start_is_a_config_error(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="cannot read signing key file"):
            KeyRing(tmp_path / "none.pem", token_ttl_seconds=TTL, reload_seconds=10)

    def test_a_refused_file_is_read_again_once_its_mode_is_fixed(
        self, tmp_path: Path, first: KeyEntry
    ) -> None:
        """A rotation written with the wrong mode is refused; the chmod that fixes it changes
        only the file's ctime, and that is enough for the next look to load it."""
        path = tmp_path / "keys.pem"
        write_key_file(path, (first,), replace=False)
        ring = KeyRing(path, token_ttl_seconds=TTL, reload_seconds=0)
        entries = rotate((first,), T0)
        write_key_file(path, entries, replace=True)
        path.chmod(0o644)
        with capture_logs() as logs:
            assert list(ring.at(T0).verifying) == [first.key.kid]
        assert [log["event"] for log in logs] == ["signing_keys.reload_failed"]
        path.chmod(0o600)
        with capture_logs() as logs:
            assert list(ring.at(T0).verifying) == [first.key.kid, entries[1].key.kid]
        assert [log["event"] for log in logs] == ["signing_keys.reloaded"]
