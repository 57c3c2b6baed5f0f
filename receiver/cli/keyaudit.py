"""Key changes made outside the database (`receiver keys ...` on key files) put in the audit
trail: one row when there is a database to hold it, a note on stderr when there is none."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import click

from receiver.cli.base import load_or_exit
from receiver.clock import utc_now
from receiver.errors import ReceiverError
from receiver.models import AuditAction
from receiver.ops.trail import cli_actor, record
from receiver.store.factory import build_store


def audit_key_change(
    action: AuditAction, *, target: str, counts: Mapping[str, int] | None = None
) -> None:
    """Append the audit row of a key file change just made (`target` a key id, never a key).

    With no database yet (the SQLite file not created) there is no trail to write: one line on
    stderr says so and the command still succeeds. A trail that cannot be written is exit 1:
    the change was made, its record was not. The store is opened without its encryption, since
    audit rows hold nothing sealed and the key-encryption key may be what is being changed.
    """
    settings = load_or_exit()
    if settings.is_sqlite and not settings.sqlite_path.exists():
        click.echo(
            f"note: no database at {settings.sqlite_path.resolve()}, so this key change is not "
            "in the audit trail",
            err=True,
        )
        return

    async def run() -> None:
        store = build_store(settings)
        await store.open()
        try:
            await record(store, cli_actor(), action, now=utc_now(), target=target, counts=counts)
        finally:
            await store.close()

    try:
        asyncio.run(run())
    except ReceiverError as exc:
        raise click.ClickException(
            f"the key change was made, but its audit row could not be written: {exc.detail}"
        ) from None
    except OSError as exc:  # the database server not answering
        raise click.ClickException(
            "the key change was made, but its audit row could not be written: "
            f"{exc.strerror or type(exc).__name__}"
        ) from None
