"""`receiver deliveries list|show|retry`, straight on the store."""

from __future__ import annotations

import click

from receiver.cli.base import emit_json, with_store
from receiver.cli.filters import enum_filter
from receiver.cli.render import human_time, table
from receiver.clock import utc_now
from receiver.errors import ReceiverError
from receiver.ops.deliveries import (
    delivery_filter,
    delivery_json,
    delivery_with_attempts,
    retry,
)
from receiver.ops.filters import DELIVERY_STATUSES
from receiver.ops.trail import cli_actor
from receiver.store.base import Store


@click.group()
def deliveries() -> None:
    """Deliveries of published messages to subscriptions."""


@deliveries.command("list")
@click.option("--subscription", help="Only this subscription's deliveries.")
@enum_filter("--status", DELIVERY_STATUSES)
@click.option("--type", "type_", help="Exact message type.")
@click.option("--message", help="Only this message's deliveries.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--cursor")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(
    subscription: str | None,
    status: str | None,
    type_: str | None,
    message: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Deliveries, newest first."""
    query = {"subscription": subscription, "status": status, "type": type_, "message": message}
    try:
        flt = delivery_filter({k: v for k, v in query.items() if v is not None})
    except ReceiverError as exc:
        raise click.UsageError(exc.detail) from None
    page = with_store(lambda store: store.list_deliveries(flt, limit=limit, cursor=cursor))
    if as_json:
        emit_json(
            {"items": [delivery_json(d) for d in page.items], "next_cursor": page.next_cursor}
        )
        return
    now = utc_now()
    table(
        ["ID", "CREATED", "SUBSCRIPTION", "TYPE", "STATUS", "ATTEMPTS", "LAST STATUS"],
        [
            [
                d.id,
                human_time(d.created_at, now),
                d.subscription_id,
                d.type,
                d.status.value,
                d.attempts,
                d.last_status,
            ]
            for d in page.items
        ],
        empty="no deliveries",
    )
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")


@deliveries.command("show")
@click.argument("delivery_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the default).")
def show(delivery_id: str, as_json: bool) -> None:
    """One delivery as JSON, with every attempt made at it."""
    found = with_store(lambda store: delivery_with_attempts(store, delivery_id))
    if found is None:
        raise click.ClickException(f"no delivery {delivery_id}")
    emit_json(found)


@deliveries.command("retry")
@click.argument("delivery_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def retry_(delivery_id: str, as_json: bool) -> None:
    """Send a dead delivery again, with a fresh attempt budget."""

    async def action(store: Store) -> None:
        await retry(store, delivery_id, utc_now(), actor=cli_actor())

    with_store(action)
    if as_json:
        emit_json({"requeued": delivery_id})
        return
    click.echo(f"requeued {delivery_id}")
