"""`receiver clients create|list|rotate|revoke`: OAuth clients for our token endpoint."""

from __future__ import annotations

from datetime import timedelta

import click

from receiver.auth.clients import new_client
from receiver.cli.base import emit_json, load_or_exit, with_store
from receiver.cli.render import confirm, fields, human_time, table
from receiver.clock import utc_now
from receiver.errors import ConfigError
from receiver.models import Client
from receiver.ops.directory import add_client, revoke_client_named, rotate_client_secret
from receiver.ops.trail import cli_actor
from receiver.store.base import Store


def client_json(client: Client) -> dict[str, object]:
    """A client without its secret hashes."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "scopes": list(client.scopes),
        "created_at": client.created_at.isoformat(),
        "revoked_at": client.revoked_at.isoformat() if client.revoked_at else None,
        "previous_secret_expires_at": (
            client.previous_expires_at.isoformat() if client.previous_expires_at else None
        ),
    }


@click.group()
def clients() -> None:
    """OAuth clients (Optum, ops tools) allowed to take tokens from /oauth/token."""


@clients.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True, help="Repeat for each scope.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def create(name: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Create a client; its secret is shown once and stored only as a hash."""
    now = utc_now()
    try:
        client, secret = new_client(name, scopes, now)
    except ConfigError as exc:
        raise click.UsageError(exc.detail) from None

    async def action(store: Store) -> None:
        await add_client(store, client, now=now, actor=cli_actor())

    with_store(action)
    if as_json:
        emit_json({**client_json(client), "client_secret": secret})
        return
    click.echo(f"client_id:     {client.client_id}")
    click.echo(f"client_secret: {secret}")
    click.echo(f"scopes:        {' '.join(client.scopes)}")
    click.echo("The secret is shown once; store it now.")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(as_json: bool) -> None:
    """List clients (never their secrets)."""
    found = with_store(lambda store: store.list_clients())
    if as_json:
        emit_json([client_json(c) for c in found])
        return
    now = utc_now()
    table(
        ["NAME", "CLIENT ID", "STATE", "SCOPES", "CREATED"],
        [
            [
                c.name,
                c.client_id,
                "revoked" if c.revoked_at else "active",
                " ".join(c.scopes),
                human_time(c.created_at, now),
            ]
            for c in found
        ],
        empty="no clients",
    )


@clients.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(name: str, as_json: bool) -> None:
    """One client, revoked ones too (never its secret hashes)."""
    client = with_store(lambda store: store.fetch_client_by_name(name))
    if client is None:
        raise click.ClickException(f"no client named {name!r}")
    if as_json:
        emit_json(client_json(client))
        return
    now = utc_now()
    fields(
        {
            **client_json(client),
            "created_at": human_time(client.created_at, now),
            "revoked_at": human_time(client.revoked_at, now) if client.revoked_at else None,
            "previous_secret_expires_at": (
                human_time(client.previous_expires_at, now) if client.previous_expires_at else None
            ),
        }
    )


@clients.command("rotate")
@click.argument("name")
@click.option(
    "--grace-hours",
    type=float,
    default=None,
    help="Hours the old secret stays valid [default: RECEIVER_CLIENT_SECRET_GRACE_SECONDS, 24 h].",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rotate(name: str, grace_hours: float | None, as_json: bool) -> None:
    """Issue a new secret; the old one keeps working for the grace period."""
    grace = (
        timedelta(seconds=load_or_exit().client_secret_grace_seconds)
        if grace_hours is None
        else timedelta(hours=grace_hours)
    )

    async def action(store: Store) -> tuple[Client, str]:
        return await rotate_client_secret(
            store, name, now=utc_now(), grace=grace, actor=cli_actor()
        )

    client, secret = with_store(action)
    if as_json:
        emit_json({**client_json(client), "client_secret": secret})
        return
    click.echo(f"client_secret: {secret}")
    click.echo(f"The old secret works until {client.previous_expires_at}.")


@clients.command("revoke")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def revoke(name: str, yes: bool, as_json: bool) -> None:
    """Revoke a client: no new tokens, and its unexpired tokens stop working."""
    confirm(f"Revoke client {name}?", yes=yes, refusal="pass --yes to revoke")

    async def action(store: Store) -> None:
        await revoke_client_named(store, name, now=utc_now(), actor=cli_actor())

    with_store(action)
    if as_json:
        emit_json({"revoked": name})
        return
    click.echo(f"revoked {name}")
