"""`receiver audit list`: the audit trail, newest first, straight on the store."""

from __future__ import annotations

import click

from receiver.cli.base import emit_json, with_store
from receiver.cli.filters import enum_filter
from receiver.errors import ReceiverError
from receiver.ops.audit import audit_filter, page_json
from receiver.ops.filters import AUDIT_ACTIONS


@click.group()
def audit() -> None:
    """The audit trail: every ops action and every read of PHI, append-only."""


@audit.command("list")
@click.option("--actor", help="Only this actor: a client id, or cli:<os user>.")
@enum_filter("--action", AUDIT_ACTIONS, help="Only this action.")
@click.option("--since", help="ISO-8601 time with a timezone (inclusive).")
@click.option("--until", help="ISO-8601 time with a timezone (exclusive).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--cursor", help="Continue from a previous page's next cursor.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(
    actor: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Audit rows, newest first."""
    query = {"actor": actor, "action": action, "since": since, "until": until}
    try:
        flt = audit_filter({k: v for k, v in query.items() if v is not None})
    except ReceiverError as exc:
        raise click.UsageError(exc.detail) from None
    page = with_store(lambda store: store.list_audit(flt, limit=limit, cursor=cursor))
    if as_json:
        emit_json(page_json(page))
        return
    if not page.items:
        click.echo("no audit rows match")
    for e in page.items:
        click.echo(
            f"{e.created_at.isoformat()}\t{e.actor}\t{e.action}\t{e.target or '-'}\t{e.request_id}"
        )
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")
