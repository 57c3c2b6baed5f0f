"""Which signing keys sign and which verify at a given moment (pure), rotation (pure), and the
KeyRing that serves them from the key file, re-reading it when it changes.

A key signs from its `activates_at` until the next key's. It is published and accepted from
the moment it is in the file (so every verifier knows it before anything is signed with it)
until the last token it signed has expired: `token_ttl` plus the verification leeway after it
stopped signing. Then it drops out of the JWKS and verifies nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from receiver.auth.keys import KeyEntry, SigningKey, load_key_file, new_signing_key
from receiver.auth.tokens import LEEWAY_SECONDS
from receiver.errors import ConfigError

_log = structlog.get_logger("receiver.auth")


@dataclass(frozen=True, slots=True)
class KeyWindow:
    """When one key signs and until when it verifies (None: unbounded on that side)."""

    kid: str
    signs_from: datetime | None
    signs_until: datetime | None
    verifies_until: datetime | None

    def state_at(self, now: datetime) -> str:
        """`pending` (published, not signing yet), `signing`, `verifying` (its tokens are
        still honoured) or `retired`."""
        if self.verifies_until is not None and now >= self.verifies_until:
            return "retired"
        if self.signs_until is not None and now >= self.signs_until:
            return "verifying"
        if self.signs_from is not None and now < self.signs_from:
            return "pending"
        return "signing"


@dataclass(frozen=True, slots=True)
class KeyView:
    """The keys in force during [valid_from, valid_until): the one that signs, and every one
    that verifies and is published (the signer included), by kid."""

    signing: SigningKey
    verifying: Mapping[str, SigningKey]
    valid_from: datetime | None
    valid_until: datetime | None

    def holds_at(self, now: datetime) -> bool:
        """True while `now` is inside the span this view was computed for."""
        after_start = self.valid_from is None or now >= self.valid_from
        return after_start and (self.valid_until is None or now < self.valid_until)


def key_windows(entries: Sequence[KeyEntry], token_ttl_seconds: int) -> list[KeyWindow]:
    """Every key's windows, in signing order (by activation; file order breaks ties)."""
    ordered = _in_signing_order(entries)
    grace = timedelta(seconds=token_ttl_seconds + LEEWAY_SECONDS)
    windows = []
    for index, entry in enumerate(ordered):
        successor = ordered[index + 1].activates_at if index + 1 < len(ordered) else None
        windows.append(
            KeyWindow(
                kid=entry.key.kid,
                signs_from=entry.activates_at,
                signs_until=successor,
                verifies_until=successor + grace if successor is not None else None,
            )
        )
    return windows


def view_at(entries: Sequence[KeyEntry], now: datetime, token_ttl_seconds: int) -> KeyView:
    """The keys in force at `now`. The signer is the last key activated by `now`; if none is
    (a clock behind the one that rotated), the first."""
    if not entries:
        raise ConfigError("there is no signing key")
    ordered = _in_signing_order(entries)
    windows = key_windows(ordered, token_ttl_seconds)
    signing = ordered[0].key
    verifying: dict[str, SigningKey] = {}
    for entry, window in zip(ordered, windows, strict=True):
        state = window.state_at(now)
        if state == "signing":
            signing = entry.key
        if state != "retired":
            verifying[entry.key.kid] = entry.key
    edges = [w.signs_from for w in windows] + [w.verifies_until for w in windows]
    before = [edge for edge in edges if edge is not None and edge <= now]
    after = [edge for edge in edges if edge is not None and edge > now]
    return KeyView(
        signing=signing,
        verifying=verifying,
        valid_from=max(before, default=None),
        valid_until=min(after, default=None),
    )


def rotated(
    entries: Sequence[KeyEntry],
    now: datetime,
    *,
    delay_seconds: int,
    token_ttl_seconds: int,
    new_key: Callable[[], SigningKey] = new_signing_key,
) -> tuple[KeyEntry, ...]:
    """The key set after a rotation at `now`: retired keys dropped, a new key appended that
    signs from `now + delay`. ConfigError while an earlier rotation is still pending."""
    windows = key_windows(entries, token_ttl_seconds)
    for window in windows:
        if window.signs_from is not None and window.state_at(now) == "pending":
            raise ConfigError(
                f"key {window.kid} is still waiting to sign (from "
                f"{window.signs_from.isoformat()}); rotate again after that"
            )
    retired = {w.kid for w in windows if w.state_at(now) == "retired"}
    kept = tuple(entry for entry in entries if entry.key.kid not in retired)
    return (*kept, KeyEntry(new_key(), now + timedelta(seconds=delay_seconds)))


def _in_signing_order(entries: Sequence[KeyEntry]) -> list[KeyEntry]:
    # sorted() is stable, so keys with equal (or no) activation keep their file order.
    return sorted(entries, key=lambda e: (e.activates_at is not None, e.activates_at or 0))


@dataclass(frozen=True, slots=True)
class _FileState:
    """What identifies one version of the key file without reading it."""

    device: int
    inode: int
    size: int
    modified_ns: int
    changed_ns: int  # ctime: a chmod or chown that makes a refused file usable changes it


def _file_state(path: Path) -> _FileState:
    info = path.stat()  # follows symlinks: a Kubernetes Secret update swaps the link target
    return _FileState(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class KeyRing:
    """The key file's keys, as a `KeyView` for any moment.

    At most once per `reload_seconds` (0: on every call) the file is looked at with one
    `stat`; when it changed it is read again, so a rotation reaches every replica without a
    restart. A changed file that cannot be used is logged and the keys in force are kept.
    """

    def __init__(
        self,
        path: Path,
        *,
        token_ttl_seconds: int,
        reload_seconds: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._ttl = token_ttl_seconds
        self._reload = reload_seconds
        self._monotonic = monotonic
        self._state = _file_state(path) if path.exists() else None
        self._entries = load_key_file(path)  # ConfigError at start: no keys, no service
        self._next_look = monotonic() + reload_seconds
        self._view: KeyView | None = None

    @property
    def entries(self) -> tuple[KeyEntry, ...]:
        """The keys currently loaded, in file order."""
        return self._entries

    def at(self, now: datetime) -> KeyView:
        """The keys in force at `now` (cached until the next window edge or file change)."""
        if self._monotonic() >= self._next_look:
            self._look()
        view = self._view
        if view is None or not view.holds_at(now):
            view = self._view = view_at(self._entries, now, self._ttl)
        return view

    def _look(self) -> None:
        self._next_look = self._monotonic() + self._reload
        try:
            state = _file_state(self.path)
        except OSError as exc:
            if self._state is not None:
                _log.warning("signing_keys.unreadable", path=str(self.path), error=exc.strerror)
            self._state = None
            return
        if state == self._state:
            return
        self._state = state
        try:
            entries = load_key_file(self.path)
        except ConfigError as exc:
            _log.warning("signing_keys.reload_failed", detail=exc.detail)
            return
        self._entries, self._view = entries, None
        _log.info("signing_keys.reloaded", kids=[entry.key.kid for entry in entries])
