"""`receiver optum add|list|rotate|remove`: Optum connections (tenant and client
credentials receiver calls Optum's APIs with)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import click

from receiver.cli.base import emit_json, read_secret_env, with_store
from receiver.cli.render import confirm, table
from receiver.clock import utc_now
from receiver.enrollment.submissions import StoredConnection
from receiver.errors import NotFoundError
from receiver.models import AuditAction
from receiver.ops.trail import cli_actor, record
from receiver.store.base import Store
from receiver.upstream.optum import OptumConnection, TokenAuthMethod

_METHODS = click.Choice([m.value for m in TokenAuthMethod])


def connection_json(stored: StoredConnection) -> dict[str, object]:
    """A connection without its secret."""
    c = stored.connection
    return {
        "name": c.name,
        "tenant_id": c.tenant_id,
        "client_id": c.client_id,
        "token_auth_method": c.token_auth_method.value,
        "discover_missed_callbacks": stored.discover_missed,
        "created_at": stored.created_at.isoformat(),
    }


def _connection(
    name: str, tenant_id: str, client_id: str, secret: str, method: str
) -> OptumConnection:
    try:
        return OptumConnection(
            name=name,
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret=secret,
            token_auth_method=TokenAuthMethod(method),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _required_secret(option: str, env: str) -> str:
    value = read_secret_env(option, env)
    assert value is not None  # noqa: S101 - env is given
    return value


@click.group()
def optum() -> None:
    """Optum connections: a tenant and the client credentials receiver calls Optum with."""


@optum.command("add")
@click.argument("name")
@click.option("--tenant-id", required=True, help="The Optum tenant (sent as tenant-id).")
@click.option("--client-id-env", required=True, help="Env var holding the client id ('-': stdin).")
@click.option(
    "--client-secret-env", required=True, help="Env var holding the client secret ('-': stdin)."
)
@click.option(
    "--token-auth-method",
    type=_METHODS,
    default=TokenAuthMethod.CLIENT_SECRET_BASIC.value,
    show_default=True,
    help="How the credentials reach Optum's token endpoint.",
)
@click.option(
    "--discover-missed-callbacks/--no-discover-missed-callbacks",
    default=False,
    help="Poll Optum's Coverage Discovery task list for callbacks that never came.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def add(
    name: str,
    tenant_id: str,
    client_id_env: str,
    client_secret_env: str,
    token_auth_method: str,
    discover_missed_callbacks: bool,
    as_json: bool,
) -> None:
    """Add a connection; the secrets come from the environment or stdin, never arguments."""
    client_id = _required_secret("--client-id-env", client_id_env)
    secret = _required_secret("--client-secret-env", client_secret_env)
    stored = StoredConnection(
        _connection(name, tenant_id, client_id, secret, token_auth_method),
        created_at=utc_now(),
        discover_missed=discover_missed_callbacks,
    )

    async def action(store: Store) -> None:
        await store.add_optum_connection(stored)
        await record(store, cli_actor(), AuditAction.OPTUM_ADD, now=utc_now(), target=name)

    with_store(action)
    if as_json:
        emit_json(connection_json(stored))
    else:
        click.echo(f"added Optum connection {name} (tenant {tenant_id})")


@optum.command("rotate")
@click.argument("name")
@click.option("--client-secret-env", required=True, help="Env var holding the new secret.")
@click.option("--client-id-env", help="Env var holding a new client id, if it changed.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rotate(name: str, client_secret_env: str, client_id_env: str | None, as_json: bool) -> None:
    """Replace a connection's client secret (and id); the next call takes a new token."""
    secret = _required_secret("--client-secret-env", client_secret_env)
    client_id = read_secret_env("--client-id-env", client_id_env)

    async def action(store: Store) -> StoredConnection:
        found = await store.fetch_optum_connection(name)
        if found is None:
            raise NotFoundError(f"no Optum connection named {name!r}")
        c = found.connection
        updated = dataclasses.replace(
            found,
            connection=_connection(
                name, c.tenant_id, client_id or c.client_id, secret, c.token_auth_method.value
            ),
        )
        if not await store.update_optum_connection(updated):
            raise NotFoundError(f"no Optum connection named {name!r}")
        changed = {"client_id": int(client_id is not None)}
        await record(
            store, cli_actor(), AuditAction.OPTUM_ROTATE, now=utc_now(), target=name, counts=changed
        )
        return updated

    updated = with_store(action)
    if as_json:
        emit_json(connection_json(updated))
    else:
        click.echo(f"rotated Optum connection {name}: the new secret is used from the next call")


@optum.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(as_json: bool) -> None:
    """List connections (never their secrets)."""
    found = with_store(lambda store: store.list_optum_connections())
    if as_json:
        emit_json([connection_json(s) for s in found])
        return
    table(
        ["NAME", "TENANT", "MISSED CALLBACKS", "CREATED"],
        [
            [
                s.name,
                s.connection.tenant_id,
                "discovered" if s.discover_missed else "-",
                _day(s.created_at),
            ]
            for s in found
        ],
        empty="no Optum connections",
    )


@optum.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def remove(name: str, yes: bool, as_json: bool) -> None:
    """Remove a connection; its submissions still polling are given up."""
    confirm(f"Remove Optum connection {name}?", yes=yes, refusal="pass --yes to remove")

    async def action(store: Store) -> bool:
        removed = await store.remove_optum_connection(name)
        if removed:
            await record(store, cli_actor(), AuditAction.OPTUM_REMOVE, now=utc_now(), target=name)
        return removed

    if not with_store(action):
        raise click.ClickException(f"no Optum connection named {name!r}")
    if as_json:
        emit_json({"name": name, "removed": True})
    else:
        click.echo(f"removed Optum connection {name}")


def _day(moment: datetime) -> str:
    return moment.date().isoformat()
