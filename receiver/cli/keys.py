"""`receiver keys generate|rotate|list`: the token signing key file every replica reads.

Only kids and times are ever printed; the private keys stay in the file.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click

from receiver.auth.keyring import key_windows, rotated
from receiver.auth.keys import KeyEntry, load_key_file, new_signing_key, write_key_file
from receiver.cli.base import emit_json, load_or_exit
from receiver.cli.keyaudit import audit_key_change
from receiver.cli.render import human_time, table
from receiver.clock import utc_now
from receiver.errors import ConfigError
from receiver.models import AuditAction
from receiver.settings import Settings

_PATH = click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group()
def keys() -> None:
    """Token signing keys: one key file, mounted into every replica (RECEIVER_SIGNING_KEY_PATH).

    PATH defaults to RECEIVER_SIGNING_KEY_PATH (on SQLite, to the key beside the database).
    """


@keys.command("generate")
@_PATH
@_JSON
def generate(path: Path | None, as_json: bool) -> None:
    """Create a key file holding one new key, readable by its owner only."""
    settings = load_or_exit()
    target = _key_path(path, settings)
    if os.path.lexists(target):
        raise click.ClickException(
            f"{target} exists; add a key to it with `receiver keys rotate {target}`"
        )
    entry = KeyEntry(new_signing_key())
    try:
        write_key_file(target, (entry,), replace=False)
        written = load_key_file(target)
    except ConfigError as exc:
        raise click.ClickException(exc.detail) from None
    if [e.key.kid for e in written] != [entry.key.kid]:
        raise click.ClickException(f"{target} was created by someone else meanwhile; look at it")
    audit_key_change(AuditAction.SIGNING_KEY_GENERATE, target=entry.key.kid)
    _show(target, written, settings, as_json)


@keys.command("rotate")
@_PATH
@_JSON
def rotate(path: Path | None, as_json: bool) -> None:
    """Add a new key: published at once, signing after RECEIVER_SIGNING_KEY_ROTATION_DELAY_SECONDS.

    The key signing now keeps verifying until its last token expires; keys whose tokens have
    all expired are dropped from the file.
    """
    settings = load_or_exit()
    target = _key_path(path, settings)
    try:
        before = load_key_file(target)
        entries = rotated(
            before,
            utc_now().replace(microsecond=0),
            delay_seconds=settings.signing_key_rotation_delay_seconds,
            token_ttl_seconds=settings.token_ttl_seconds,
        )
        write_key_file(target, entries, replace=True)
    except ConfigError as exc:
        raise click.ClickException(exc.detail) from None
    kept = {e.key.kid for e in entries}
    dropped = sum(1 for e in before if e.key.kid not in kept)
    (added,) = [e.key.kid for e in entries if e.key.kid not in {b.key.kid for b in before}]
    audit_key_change(AuditAction.SIGNING_KEY_ROTATE, target=added, counts={"dropped": dropped})
    _show(target, entries, settings, as_json)


@keys.command("list")
@_PATH
@_JSON
def list_(path: Path | None, as_json: bool) -> None:
    """Show each key's kid, state and signing and verifying windows."""
    settings = load_or_exit()
    target = _key_path(path, settings)
    try:
        entries = load_key_file(target)
    except ConfigError as exc:
        raise click.ClickException(exc.detail) from None
    _show(target, entries, settings, as_json)


def _key_path(path: Path | None, settings: Settings) -> Path:
    if path is not None:
        return path
    if settings.signing_key_path or settings.is_sqlite:
        return settings.resolved_signing_key_path
    raise click.UsageError("give the key file's PATH or set RECEIVER_SIGNING_KEY_PATH")


def _show(path: Path, entries: tuple[KeyEntry, ...], settings: Settings, as_json: bool) -> None:
    now = utc_now()
    rows = [
        {
            "kid": window.kid,
            "state": window.state_at(now),
            "signs_from": _when(window.signs_from),
            "signs_until": _when(window.signs_until),
            "verifies_until": _when(window.verifies_until),
        }
        for window in key_windows(entries, settings.token_ttl_seconds)
    ]
    if as_json:
        emit_json({"path": str(path), "keys": rows})
        return
    click.echo(f"{path}:")
    windows = key_windows(entries, settings.token_ttl_seconds)
    table(
        ["KID", "STATE", "SIGNS FROM", "SIGNS UNTIL", "VERIFIES UNTIL"],
        [
            [
                w.kid,
                w.state_at(now),
                human_time(w.signs_from, now) if w.signs_from else "the start",
                human_time(w.signs_until, now) if w.signs_until else "the next rotation",
                human_time(w.verifies_until, now) if w.verifies_until else "its last token expires",
            ]
            for w in windows
        ],
        empty="no keys",
    )


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
