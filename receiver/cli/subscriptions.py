"""`receiver subscriptions add|list|show|remove|rotate-secret|enable`, through the ops use cases
(every change is audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from receiver.cli.base import emit_json, load_or_exit, with_store
from receiver.cli.render import confirm, fields, human_time, table
from receiver.clock import utc_now
from receiver.delivery import subscriptions as domain
from receiver.delivery.rules import message_body, signature_headers
from receiver.delivery.sender import Sender, SendResult
from receiver.errors import BadRequestError, NotFoundError
from receiver.ids import new_id
from receiver.models import OutboundMessage, Subscription, SubscriptionStatus
from receiver.net.ssrf import system_resolver
from receiver.ops import subscriptions as use
from receiver.ops.subscriptions import subscription_json, with_secret
from receiver.ops.trail import cli_actor
from receiver.store.base import Store


async def _fetch(store: Store, subscription_id: str) -> Subscription:
    sub = await store.fetch_subscription(subscription_id)
    if sub is None:
        raise NotFoundError(f"no subscription {subscription_id}")
    return sub


def _row(sub: Subscription, now: datetime) -> list[str]:
    """One table row (never the URL's query string, which may carry a token)."""
    url = sub.url.split("?", 1)[0]
    return [
        sub.id,
        sub.status.value,
        ",".join(sub.type_patterns),
        sub.account or "*",
        url,
        human_time(sub.created_at, now),
    ]


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
        return await use.create(
            store,
            url=url,
            types=list(types),
            account=account,
            description=description,
            now=utc_now(),
            allow_insecure=settings.allow_insecure_destinations,
            resolver=system_resolver,
            actor=cli_actor(),
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
    now = utc_now()
    table(
        ["ID", "STATUS", "TYPES", "ACCOUNT", "URL", "CREATED"],
        [_row(sub, now) for sub in found],
        empty="no subscriptions",
    )


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
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def remove(subscription_id: str, yes: bool, as_json: bool) -> None:
    """Remove a subscription: nothing more is sent; its deliveries stay readable."""
    confirm(f"Remove subscription {subscription_id}?", yes=yes, refusal="pass --yes to remove")

    async def action(store: Store) -> None:
        sub = await _fetch(store, subscription_id)
        await use.remove(store, sub, now=utc_now(), actor=cli_actor())

    with_store(action)
    if as_json:
        emit_json({"removed": subscription_id})
        return
    click.echo(f"removed {subscription_id}")


@subscriptions.command("rotate-secret")
@click.argument("subscription_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rotate_secret(subscription_id: str, as_json: bool) -> None:
    """Issue a new signing secret; the old one also signs during the grace period."""
    grace = load_or_exit().subscription_secret_grace_seconds

    async def action(store: Store) -> Subscription:
        sub = await _fetch(store, subscription_id)
        return await use.rotate(store, sub, now=utc_now(), grace_seconds=grace, actor=cli_actor())

    sub = with_store(action)
    if as_json:
        emit_json(with_secret(sub))
        return
    click.echo(f"secret: {sub.secret}")
    click.echo("The secret is shown once; store it now.")
    if sub.previous_expires_at:
        click.echo(f"The old secret also signs until {sub.previous_expires_at.isoformat()}.")


@subscriptions.command("test")
@click.argument("subscription_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def test(subscription_id: str, as_json: bool) -> None:
    """Send a signed test message (type receiver.test) to the subscription now and print the
    answer's status code and latency. Nothing is queued: no delivery row is created."""
    settings = load_or_exit()

    async def action(store: Store) -> tuple[Subscription, str, SendResult]:
        sub = await _fetch(store, subscription_id)
        if sub.status is SubscriptionStatus.REMOVED:
            raise BadRequestError(f"subscription {subscription_id} is removed")
        now = utc_now()
        message = test_message(sub, now)
        body = message_body(message)
        sender = Sender(
            allow_insecure=settings.allow_insecure_destinations,
            resolver=system_resolver,
            timeout_seconds=settings.delivery_timeout_seconds,
            outbound_http=settings.outbound_http,
        )
        try:
            result = await sender.post(
                pool_key=sub.id,
                url=sub.url,
                body=body,
                headers=signature_headers(
                    message_id=message.id, body=body, secrets=sub.signing_secrets(now), at=now
                ),
                now=now,
            )
        finally:
            await sender.aclose()
        return sub, message.id, result

    sub, message_id, result = with_store(action)
    answered = result.status_code is not None and 200 <= result.status_code < 300
    if as_json:
        emit_json(
            {
                "subscription_id": sub.id,
                "message_id": message_id,
                "status_code": result.status_code,
                "latency_ms": result.duration_ms,
                "error": result.error,
                "ok": answered,
            }
        )
    else:
        fields(
            {
                "subscription": sub.id,
                "message_id": message_id,
                "status_code": result.status_code,
                "latency": f"{result.duration_ms} ms",
                "error": result.error,
            }
        )
    if not answered:
        raise click.ClickException("the test message was not accepted (no 2xx answer)")


def test_message(sub: Subscription, now: datetime) -> OutboundMessage:
    """The `receiver.test` message a `subscriptions test` sends: a fresh id, no PHI."""
    return OutboundMessage(
        id=new_id("msg_test"),
        type="receiver.test",
        account=sub.account,
        data={"subscription_id": sub.id, "test": True},
        created_at=now,
    )


@subscriptions.command("enable")
@click.argument("subscription_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def enable(subscription_id: str, as_json: bool) -> None:
    """Re-enable a disabled subscription; what waited for it (deliveries held back or backing
    off) is due at once."""

    async def action(store: Store) -> None:
        sub = await _fetch(store, subscription_id)
        await use.enable(store, sub, now=utc_now(), actor=cli_actor())

    with_store(action)
    if as_json:
        emit_json({"enabled": subscription_id})
        return
    click.echo(f"enabled {subscription_id}")


def _echo_fields(fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        shown = " ".join(value) if isinstance(value, list) else value
        click.echo(f"{key + ':':17} {'-' if shown is None or shown == '' else shown}")
