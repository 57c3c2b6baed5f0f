"""`receiver keys create-kek|rotate-kek|rewrap|rotate-data-key|data-keys|reencrypt`: the keys
of encryption at rest. Only key ids, counts and times are ever printed, never a key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TypeVar

import click

from receiver.cli.base import (
    emit_json,
    load_or_exit,
    with_sealed_store,
)
from receiver.cli.keyaudit import audit_key_change
from receiver.cli.render import human_time, table
from receiver.clock import utc_now
from receiver.crypto import create_kek, rotate_kek
from receiver.errors import ConfigError
from receiver.models import AuditAction
from receiver.ops.trail import cli_actor, record
from receiver.store.datakeys_port import StoredDataKey
from receiver.store.reencrypt import ColumnCount, reencrypt
from receiver.store.sealed import SealedStore

T = TypeVar("T")
_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.command("create-kek")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def create_kek_(path: Path, as_json: bool) -> None:
    """Create a key-encryption key file (mode 0600) holding one new key; never overwrites."""
    try:
        keks = create_kek(path)
    except ConfigError as exc:
        raise click.ClickException(exc.detail) from None
    audit_key_change(AuditAction.KEK_CREATE, target=keks.current.kid)
    if as_json:
        emit_json({"path": str(path), "kek_id": keks.current.kid})
        return
    click.echo(f"{path}: key-encryption key {keks.current.kid}")


@click.command("rotate-kek")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rotate_kek_(path: Path | None, as_json: bool) -> None:
    """Put a new current key first in the KEK file, keeping the older ones; then restart and
    run `receiver keys rewrap`. PATH defaults to RECEIVER_ENCRYPTION_KEY_PATH."""
    target = path or load_or_exit().resolved_encryption_key_path
    try:
        keks = rotate_kek(target)
    except ConfigError as exc:
        raise click.ClickException(exc.detail) from None
    audit_key_change(AuditAction.KEK_ROTATE, target=keks.current.kid)
    if as_json:
        emit_json({"path": str(target), "kek_id": keks.current.kid, "older": keks.ids[1:]})
        return
    click.echo(f"{target}: current key-encryption key {keks.current.kid}")
    click.echo(f"older keys kept: {', '.join(keks.ids[1:])}")
    click.echo("restart every process, then run `receiver keys rewrap`")


@click.command("rewrap")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rewrap(as_json: bool) -> None:
    """Rewrap every data key under the current key-encryption key (no value is rewritten)."""

    async def action(store: SealedStore) -> list[str]:
        done = await store.rewrap_data_keys()
        target = store.keks.current.kid
        counts = {"rewrapped": len(done)}
        await record(
            store,
            cli_actor(),
            AuditAction.DATA_KEYS_REWRAP,
            now=utc_now(),
            target=target,
            counts=counts,
        )
        return done

    done = with_sealed_store(action)
    if as_json:
        emit_json({"rewrapped": done})
        return
    click.echo(f"rewrapped {len(done)} data keys" + (f": {', '.join(done)}" if done else ""))


@click.command("rotate-data-key")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rotate_data_key(as_json: bool) -> None:
    """Start a new data key: every process seals new values with it within a minute."""

    async def action(store: SealedStore) -> StoredDataKey:
        key = await store.rotate_data_key()
        target = key.wrapped.dek_id
        await record(store, cli_actor(), AuditAction.DATA_KEY_ROTATE, now=utc_now(), target=target)
        return key

    key = with_sealed_store(action)
    if as_json:
        emit_json({"dek_id": key.wrapped.dek_id, "kek_id": key.wrapped.kek_id})
        return
    click.echo(f"new data key {key.wrapped.dek_id}, wrapped by {key.wrapped.kek_id}")
    click.echo("older rows: `receiver keys reencrypt --dry-run`, then `receiver keys reencrypt`")


@click.command("data-keys")
@_JSON
def data_keys(as_json: bool) -> None:
    """List the stored data keys: id, purpose, wrapping KEK id, created, current."""

    async def action(store: SealedStore) -> list[dict[str, object]]:
        current = store.ring.current_id
        return [
            {
                "id": k.wrapped.dek_id,
                "purpose": k.purpose,
                "kek_id": k.wrapped.kek_id,
                "created_at": k.wrapped.created_at.isoformat(),
                "current": k.wrapped.dek_id == current,
            }
            for k in await store.list_data_keys()
        ]

    rows = with_sealed_store(action)
    if as_json:
        emit_json({"data_keys": rows})
        return
    now = utc_now()
    table(
        ["ID", "PURPOSE", "WRAPPED BY", "CREATED", "CURRENT"],
        [
            [
                r["id"],
                r["purpose"],
                r["kek_id"],
                human_time(datetime.fromisoformat(str(r["created_at"])), now),
                "yes" if r["current"] else "",
            ]
            for r in rows
        ],
        empty="no data keys",
    )


@click.command("reencrypt")
@click.option("--dry-run", is_flag=True, help="Count the rows to rewrite; change nothing.")
@click.option(
    "--batch-size",
    default=500,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Rows read per batch (each row is rewritten in a short write of its own).",
)
@_JSON
def reencrypt_(dry_run: bool, batch_size: int, as_json: bool) -> None:
    """Seal rows still in the clear and reseal rows sealed with older data keys."""

    def progress(count: ColumnCount) -> None:
        if not as_json:
            click.echo(
                f"{count.column}: {count.scanned} scanned, {count.stale} to rewrite"
                + ("" if dry_run else f", {count.rewritten} rewritten"),
                err=True,
            )

    async def action(store: SealedStore) -> list[ColumnCount]:
        counts = await reencrypt(store, batch_size=batch_size, dry_run=dry_run, progress=progress)
        if not dry_run:
            done = {
                "rewritten": sum(c.rewritten for c in counts),
                "changed_meanwhile": sum(c.changed_meanwhile for c in counts),
            }
            target = store.ring.current_id
            await record(
                store, cli_actor(), AuditAction.REENCRYPT, now=utc_now(), target=target, counts=done
            )
        return counts

    counts = with_sealed_store(action)
    rows = [
        {
            "column": c.column,
            "scanned": c.scanned,
            "stale": c.stale,
            "rewritten": c.rewritten,
            "changed_meanwhile": c.changed_meanwhile,
        }
        for c in counts
    ]
    if as_json:
        emit_json({"dry_run": dry_run, "columns": rows})
        return
    stale = sum(c.stale for c in counts)
    done = sum(c.rewritten for c in counts)
    left = sum(c.changed_meanwhile for c in counts)
    if dry_run:
        click.echo(f"{stale} values to rewrite (dry run: nothing changed)")
    else:
        click.echo(
            f"{done} values rewritten" + (f", {left} changed meanwhile: run again" if left else "")
        )


def register(group: click.Group) -> None:
    """Add these commands to `receiver keys`."""
    for command in (create_kek_, rotate_kek_, rewrap, rotate_data_key, data_keys, reencrypt_):
        group.add_command(command)
