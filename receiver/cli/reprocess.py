"""`receiver events reprocess ID` and `receiver jobs reprocess` (dead jobs by filter, counts
first), through the ops use cases (audited)."""

from __future__ import annotations

import click
import orjson

from receiver.cli.base import emit_json, with_store
from receiver.cli.filters import enum_filter
from receiver.cli.render import confirm, progress
from receiver.clock import utc_now
from receiver.errors import ReceiverError
from receiver.ops.filters import JOB_KINDS
from receiver.ops.reprocess import dead_job_filter, reprocess_dead_jobs, reprocess_event
from receiver.ops.trail import cli_actor
from receiver.store.base import Store


@click.command("reprocess")
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reprocess_one(event_id: str, as_json: bool) -> None:
    """Run an event's follow-up again: fetch its document again and send its messages again.
    Same content keeps the same message ids (webhook-id), so subscribers dedupe them."""

    async def action(store: Store) -> dict[str, object]:
        return await reprocess_event(store, event_id, now=utc_now(), actor=cli_actor())

    answer = with_store(action)
    if as_json:
        emit_json(answer)
        return
    if answer["queued"]:
        click.echo(f"queued {event_id} for reprocessing; a running worker picks it up")
    else:
        click.echo(f"{event_id} is already queued for reprocessing")


@click.command("reprocess")
@click.option("--since", required=True, help="ISO-8601 time with a timezone (inclusive).")
@click.option("--until", help="ISO-8601 time with a timezone (exclusive; default now).")
@click.option("--account", help="Only jobs of this account's events.")
@enum_filter("--kind", JOB_KINDS, help="Only jobs of this kind.")
@click.option("--dry-run", is_flag=True, help="Only count; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: the count, then the result.")
def reprocess_dead(
    since: str,
    until: str | None,
    account: str | None,
    kind: str | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Put the dead jobs created in [--since, --until) back in the queue (after fixing what
    killed them): the count first, then after confirmation."""
    if as_json and not (yes or dry_run):
        raise click.UsageError("--json needs --yes or --dry-run (it never asks)")
    now = utc_now()
    try:
        flt = dead_job_filter(since=since, until=until, account=account, kind=kind, now=now)
    except ReceiverError as exc:
        raise click.UsageError(exc.detail) from None
    actor = cli_actor()

    def run(dry: bool) -> dict[str, object]:
        with progress("queueing dead jobs again", quiet=as_json or dry) as step:

            async def action(store: Store) -> dict[str, object]:
                return await reprocess_dead_jobs(
                    store, flt, now=utc_now(), dry_run=dry, actor=actor, progress=step
                )

            return with_store(action)

    preview = run(True)
    if as_json:
        click.echo(orjson.dumps(preview).decode())
    else:
        click.echo(f"{preview['would_revive']} dead jobs would be queued again")
    if dry_run:
        return
    confirm("Queue them again?", yes=yes, refusal="pass --yes to reprocess")
    done = run(False)
    if as_json:
        click.echo(orjson.dumps(done).decode())
        return
    click.echo(f"queued {done['revived']} dead jobs again")
