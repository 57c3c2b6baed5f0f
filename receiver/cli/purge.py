"""`receiver purge`: the raw bodies and documents of old, settled events, counts first."""

from __future__ import annotations

import click
import orjson

from receiver.cli.base import with_store
from receiver.cli.render import confirm
from receiver.clock import utc_now
from receiver.errors import ReceiverError
from receiver.ops.retention import parse_age, purge
from receiver.ops.trail import cli_actor
from receiver.store.base import Store


@click.command("purge")
@click.option("--older-than", required=True, help="An age: 30d (days) or 12h (hours).")
@click.option("--dry-run", is_flag=True, help="Only count; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: the counts, then the result.")
def purge_(older_than: str, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Empty the raw bodies and documents of events received before --older-than ago whose
    jobs are done and whose deliveries are delivered; their metadata, messages, claim entries
    and the audit trail are kept, and the space is given back (SQLite). The counts first,
    then after confirmation."""
    if as_json and not (yes or dry_run):
        raise click.UsageError("--json needs --yes or --dry-run (it never asks)")
    try:
        age = parse_age(older_than)
    except ReceiverError as exc:
        raise click.UsageError(exc.detail) from None
    actor, now = cli_actor(), utc_now()

    def run(dry: bool) -> dict[str, object]:
        async def action(store: Store) -> dict[str, object]:
            return await purge(store, age, now=now, dry_run=dry, actor=actor)

        return with_store(action)

    preview = run(True)
    if as_json:
        click.echo(orjson.dumps(preview).decode())
    else:
        click.echo(
            f"{preview['events']} events received before {preview['before']} would be purged "
            f"({preview['documents']} documents, {preview['bytes']} bytes)"
        )
    if dry_run:
        return
    confirm("Purge them?", yes=yes, refusal="pass --yes to purge")
    done = run(False)
    if as_json:
        click.echo(orjson.dumps(done).decode())
        return
    click.echo(
        f"purged {done['events']} events and {done['documents']} documents; "
        f"{done['reclaimed_bytes']} bytes given back"
    )
