"""`receiver replay`: resend the deliveries of a time window, straight on the store, counts
first (a dry run), then after confirmation."""

from __future__ import annotations

import click
import orjson

from receiver.cli.base import load_or_exit, with_store
from receiver.cli.filters import check_time
from receiver.cli.render import confirm
from receiver.clock import utc_now
from receiver.errors import ReceiverError
from receiver.models import Actor, ReplayFilter
from receiver.ops.replays import REPLAY_STATUSES, replay, replay_filter
from receiver.ops.trail import cli_actor
from receiver.store.base import Store


def _emit_line(value: object) -> None:
    """One compact JSON document per line, so a script can read the preview and the result."""
    click.echo(orjson.dumps(value).decode())


def _run(flt: ReplayFilter, *, limit: int, dry_run: bool, actor: Actor) -> dict[str, object]:
    async def action(store: Store) -> dict[str, object]:
        return await replay(store, flt, now=utc_now(), limit=limit, dry_run=dry_run, actor=actor)

    return with_store(action)


@click.command("replay")
@click.option(
    "--since",
    required=True,
    callback=check_time,
    metavar="TIME",
    help="ISO-8601 time with a timezone (inclusive).",
)
@click.option(
    "--until",
    callback=check_time,
    metavar="TIME",
    help="ISO-8601 time with a timezone (exclusive; default now).",
)
@click.option("--subscription", help="Only this subscription's deliveries.")
@click.option(
    "--status",
    type=click.Choice(list(REPLAY_STATUSES)),
    default="dead",
    show_default=True,
    help="Which finished deliveries to resend.",
)
@click.option("--dry-run", is_flag=True, help="Only count; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: the counts, then the result.")
def replay_(
    since: str,
    until: str | None,
    subscription: str | None,
    status: str,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Resend the deliveries of messages published in [--since, --until) (same webhook-id and
    body), to subscriptions that are not removed: the counts first, then after confirmation.
    Pending and running deliveries are left alone."""
    if as_json and not (yes or dry_run):
        raise click.UsageError("--json needs --yes or --dry-run (it never asks)")
    try:
        flt = replay_filter(
            since=since, until=until, subscription_id=subscription, status=status, now=utc_now()
        )
    except ReceiverError as exc:
        raise click.UsageError(exc.detail) from None
    limit = load_or_exit().replay_max_deliveries
    actor = cli_actor()
    preview = _run(flt, limit=limit, dry_run=True, actor=actor)
    if as_json:
        _emit_line(preview)
    else:
        click.echo(
            f"{preview['would_requeue']} deliveries would be requeued; "
            f"{preview['already_pending']} already pending (left alone)"
        )
    if preview["over_limit"]:
        raise click.ClickException(
            f"{preview['would_requeue']} is more than the {limit} one replay may requeue "
            "(RECEIVER_REPLAY_MAX_DELIVERIES); narrow the window (--since, --until) or choose "
            "a subscription (--subscription)"
        )
    if dry_run:
        return
    confirm("Requeue them?", yes=yes, refusal="pass --yes to replay")
    done = _run(flt, limit=limit, dry_run=False, actor=actor)
    if as_json:
        _emit_line(done)
        return
    click.echo(f"requeued {done['requeued']} deliveries; {done['already_pending']} already pending")
