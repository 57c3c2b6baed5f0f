"""`receiver subscriptions add|list|show|remove|rotate-secret|enable`, straight on the store."""

from __future__ import annotations

from typing import Any

import click

from receiver.cli.base import emit_json, load_or_exit, with_store
from receiver.clock import utc_now
from receiver.delivery import subscriptions as domain
from receiver.errors import BadRequestError, NotFoundError
from receiver.models import Subscription
from receiver.net.ssrf import system_resolver
from receiver.ops.subscriptions import subscription_json, with_secret
from receiver.store.base import Store


async def _fetch(store: Store, subscription_id: str) -> Subscription:
    sub = await store.fetch_subscription(subscription_id)
    if sub is None:
        raise NotFoundError(f"no subscription {subscription_id}")
    return sub


def _line(sub: Subscription) -> str:
    """One tab-separated line (never the URL's query string, which may carry a token)."""
    url = sub.url.split("?", 1)[0]
    return (
        f"{sub.id}\t{sub.status.value}\t{','.join(sub.type_patterns)}\t{sub.account or '*'}\t{url}"
    )


@click.group()
def subscriptions() -> None:
    """Downstream subscribers: signed webhooks for published messages."""


@subscriptions.command("add")
@click.argument("url")
@click.option(
    "--type",
    "types",
    multiple=True,
    required=True,
    help="Event type pattern: '*', 'claim.*' or an exact type. Repeat for more.",
)
@click.option("--account", help="Only messages from this Stedi account (default: all).")
@click.option("--description", default="", help="A note for operators.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def add(
    url: str, types: tuple[str, ...], account: str | None, description: str, as_json: bool
) -> None:
    """Add a subscription; its signing secret is shown once."""
    settings = load_or_exit()
    try:
        domain.validate_patterns(list(types))
        domain.validate_description(description)
    except BadRequestError as exc:
        raise click.UsageError(exc.detail) from None

    async def action(store: Store) -> Subscription:
        return await domain.create_subscription(
            store,
            url=url,
            types=list(types),
            account=account,
            description=description,
            now=utc_now(),
            allow_insecure=settings.allow_insecure_destinations,
            resolver=system_resolver,
        )

    sub = with_store(action)
    if as_json:
        emit_json(with_secret(sub))
        return
    click.echo(f"id:     {sub.id}")
    click.echo(f"types:  {' '.join(sub.type_patterns)}")
    click.echo(f"secret: {sub.secret}")
    click.echo("The secret is shown once; store it now (subscribers verify signatures with it).")


@subscriptions.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Include removed subscriptions.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(include_removed: bool, as_json: bool) -> None:
    """List subscriptions, oldest first (never their secrets)."""
    found = with_store(lambda store: store.list_subscriptions(include_removed=include_removed))
    if as_json:
        emit_json([subscription_json(s) for s in found])
        return
    for sub in found:
        click.echo(_line(sub))


@subscriptions.command("show")
@click.argument("subscription_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(subscription_id: str, as_json: bool) -> None:
    """One subscription, removed ones too (never its secret)."""
    sub = with_store(lambda store: _fetch(store, subscription_id))
    if as_json:
        emit_json(subscription_json(sub))
        return
    _echo_fields(subscription_json(sub))


@subscriptions.command("remove")
@click.argument("subscription_id")
def remove(subscription_id: str) -> None:
    """Remove a subscription: nothing more is sent; its deliveries stay readable."""

    async def action(store: Store) -> None:
        sub = await _fetch(store, subscription_id)
        removed = domain.remove(sub, utc_now())
        if removed is not sub:
            await store.update_subscription(removed)

    with_store(action)
    click.echo(f"removed {subscription_id}")


@subscriptions.command("rotate-secret")
@click.argument("subscription_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rotate_secret(subscription_id: str, as_json: bool) -> None:
    """Issue a new signing secret; the old one also signs during the grace period."""
    grace = load_or_exit().subscription_secret_grace_seconds

    async def action(store: Store) -> Subscription:
        rotated = domain.rotate_secret(await _fetch(store, subscription_id), utc_now(), grace)
        await store.update_subscription(rotated)
        return rotated

    sub = with_store(action)
    if as_json:
        emit_json(with_secret(sub))
        return
    click.echo(f"secret: {sub.secret}")
    click.echo("The secret is shown once; store it now.")
    if sub.previous_expires_at:
        click.echo(f"The old secret also signs until {sub.previous_expires_at.isoformat()}.")


@subscriptions.command("enable")
@click.argument("subscription_id")
def enable(subscription_id: str) -> None:
    """Re-enable a disabled subscription; what waited for it (deliveries held back or backing
    off) is due at once."""

    async def action(store: Store) -> None:
        now = utc_now()
        await store.update_subscription(domain.enable(await _fetch(store, subscription_id), now))
        await store.release_held_deliveries(subscription_id, now=now)

    with_store(action)
    click.echo(f"enabled {subscription_id}")


def _echo_fields(fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        shown = " ".join(value) if isinstance(value, list) else value
        click.echo(f"{key + ':':17} {'-' if shown is None or shown == '' else shown}")
