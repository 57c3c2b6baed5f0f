"""`receiver accounts add|list|rotate|remove`: Stedi accounts and their credentials."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import click

from receiver.auth.accounts import (
    check_account_name,
    check_stedi_account_id,
    parse_stedi_account_uuid,
)
from receiver.cli.base import emit_json, read_secret_env, with_store
from receiver.cli.render import confirm, fields, human_time, table
from receiver.clock import utc_now
from receiver.intake.stedi import hash_credential
from receiver.models import Account, AccountCredential, CredentialKind
from receiver.ops.directory import add_account, change_account, remove_account
from receiver.ops.trail import cli_actor
from receiver.store.base import Store


def account_json(account: Account, now: datetime) -> dict[str, object]:
    """An account without any secret: credential kinds, names and expiry only."""
    return {
        "name": account.name,
        "stedi_account_id": account.stedi_account_id,
        "stedi_account_uuid": account.stedi_account_uuid,
        "created_at": account.created_at.isoformat(),
        "has_api_key": account.api_key is not None,
        "credentials": [
            {
                "kind": c.kind.value,
                "name": c.name,
                "expires_at": c.expires_at.isoformat() if c.expires_at else None,
                "valid": c.is_valid_at(now),
            }
            for c in account.credentials
        ],
    }


def inbound_credential(
    header: str | None, basic_user: str | None, secret_env: str | None, now: datetime
) -> AccountCredential | None:
    """The webhook credential the options describe (secret hashed), or None."""
    if header and basic_user:
        raise click.UsageError("give --inbound-header or --inbound-basic, not both")
    if not (header or basic_user):
        if secret_env:
            raise click.UsageError("--inbound-secret-env needs --inbound-header or --inbound-basic")
        return None
    secret = read_secret_env("--inbound-secret-env", secret_env)
    if secret is None:
        raise click.UsageError("--inbound-secret-env names the variable holding the secret")
    if header:
        return AccountCredential(
            CredentialKind.HEADER, header.lower(), hash_credential(secret), now
        )
    assert basic_user is not None  # noqa: S101
    return AccountCredential(CredentialKind.BASIC, basic_user, hash_credential(secret), now)


def destination_credential(env: str | None, now: datetime) -> AccountCredential | None:
    """The event-destinations signing secret (`whsec_...`), or None."""
    secret = read_secret_env("--destination-secret-env", env)
    if secret is None:
        return None
    if not secret.startswith("whsec_"):
        raise click.UsageError("--destination-secret-env: the secret must start with whsec_")
    return AccountCredential(CredentialKind.DESTINATION, "destination", secret, now)


_inbound_options = [
    click.option("--inbound-header", help="Header Stedi sends (API Keys credential set)."),
    click.option("--inbound-basic", "basic_user", help="Basic user Stedi sends."),
    click.option("--inbound-secret-env", help="Env var holding the header value or password."),
    click.option("--destination-secret-env", help="Env var holding the whsec_ secret."),
]


def _checked(
    check: Callable[[str], str],
) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A click callback running `check` on a given value; its ValueError is a usage error."""

    def callback(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


_uuid_option = click.option(
    "--stedi-account-uuid",
    callback=_checked(parse_stedi_account_uuid),
    help="The account's UUID, as event destinations carry it (if the webhook id is another form).",
)


def inbound_options(f: click.decorators.FC) -> click.decorators.FC:
    """Attach the credential options shared by add and rotate."""
    for option in reversed(_inbound_options):
        f = option(f)
    return f


@click.group()
def accounts() -> None:
    """Stedi accounts: one webhook configuration each, under a local name."""


@accounts.command("add")
@click.argument("name", callback=_checked(check_account_name))
@click.option(
    "--stedi-account-id",
    required=True,
    callback=_checked(check_stedi_account_id),
    help="The account id Stedi puts in webhook events.",
)
@_uuid_option
@inbound_options
@click.option("--api-key-env", help="Env var holding our API key for Stedi's APIs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def add(
    name: str,
    stedi_account_id: str,
    stedi_account_uuid: str | None,
    inbound_header: str | None,
    basic_user: str | None,
    inbound_secret_env: str | None,
    destination_secret_env: str | None,
    api_key_env: str | None,
    as_json: bool,
) -> None:
    """Add an account. Stedi's webhook is then POST /webhooks/stedi/NAME (NAME: 1 to 63
    lower-case letters, digits, '-' or '_', starting with a letter or digit)."""
    now = utc_now()
    credentials = [
        c
        for c in (
            inbound_credential(inbound_header, basic_user, inbound_secret_env, now),
            destination_credential(destination_secret_env, now),
        )
        if c is not None
    ]
    if not credentials:
        raise click.UsageError(
            "an account needs --inbound-header or --inbound-basic with --inbound-secret-env, "
            "or --destination-secret-env"
        )
    account = Account(
        name=name,
        stedi_account_id=stedi_account_id,
        created_at=now,
        credentials=tuple(credentials),
        api_key=read_secret_env("--api-key-env", api_key_env),
        stedi_account_uuid=stedi_account_uuid,
    )

    async def action(store: Store) -> None:
        await add_account(store, account, now=now, actor=cli_actor())

    with_store(action)
    if as_json:
        emit_json(account_json(account, now))
    else:
        click.echo(f"added {name}: Stedi posts to /webhooks/stedi/{name}")


@accounts.command("rotate")
@click.argument("name")
@inbound_options
@_uuid_option
@click.option(
    "--api-key-env",
    help="Env var holding a new Stedi API key (replaces the one receiver sends, at once).",
)
@click.option("--grace-hours", default=24.0, show_default=True, help="Old credential stays valid.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rotate(
    name: str,
    inbound_header: str | None,
    basic_user: str | None,
    inbound_secret_env: str | None,
    destination_secret_env: str | None,
    api_key_env: str | None,
    stedi_account_uuid: str | None,
    grace_hours: float,
    as_json: bool,
) -> None:
    """Add a new inbound credential (the old one of the same kind is accepted for the grace
    period), and/or replace the Stedi API key or set the account's UUID (both at once)."""
    now = utc_now()
    api_key = read_secret_env("--api-key-env", api_key_env) if api_key_env else None
    new = [
        c
        for c in (
            inbound_credential(inbound_header, basic_user, inbound_secret_env, now),
            destination_credential(destination_secret_env, now),
        )
        if c is not None
    ]
    if not new and api_key is None and stedi_account_uuid is None:
        raise click.UsageError(
            "give the new credential (or --api-key-env, --stedi-account-uuid) to rotate to"
        )
    expires = now + timedelta(hours=grace_hours)
    webhook_kinds = {CredentialKind.HEADER, CredentialKind.BASIC}

    def same_family(a: CredentialKind, b: CredentialKind) -> bool:
        return a == b or {a, b} <= webhook_kinds

    def change(account: Account) -> Account:
        kept = tuple(
            c
            if c.expires_at is not None or not any(same_family(c.kind, n.kind) for n in new)
            else replace(c, expires_at=expires)
            for c in account.credentials
            if c.is_valid_at(now)
        )
        return replace(
            account,
            credentials=(*kept, *new),
            api_key=api_key or account.api_key,
            stedi_account_uuid=stedi_account_uuid or account.stedi_account_uuid,
        )

    changed = [
        *(c.kind.value for c in new),
        *(["api_key"] if api_key is not None else []),
        *(["stedi_account_uuid"] if stedi_account_uuid is not None else []),
    ]

    async def action(store: Store) -> None:
        await change_account(store, name, change, changed=changed, now=now, actor=cli_actor())

    with_store(action)
    if as_json:
        emit_json(
            {
                "name": name,
                "previous_credential_expires_at": expires.isoformat() if new else None,
                "api_key_stored": api_key is not None,
                "stedi_account_uuid": stedi_account_uuid,
            }
        )
        return
    if new:
        click.echo(f"rotated {name}: previous credential accepted until {expires.isoformat()}")
    if api_key is not None:
        click.echo(f"{name}: new Stedi API key stored; `receiver jobs retry` revives dead jobs")
    if stedi_account_uuid is not None:
        click.echo(f"{name}: events naming Stedi account {stedi_account_uuid} are accepted")


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(as_json: bool) -> None:
    """List accounts (never their secrets)."""
    found = with_store(lambda store: store.list_accounts())
    now = utc_now()
    if as_json:
        emit_json([account_json(a, now) for a in found])
        return
    table(
        ["NAME", "STEDI ACCOUNT", "CREDENTIALS", "STEDI UUID", "CREATED"],
        [
            [
                a.name,
                a.stedi_account_id,
                ",".join(sorted({c.kind.value for c in a.credentials if c.is_valid_at(now)})),
                a.stedi_account_uuid,
                human_time(a.created_at, now),
            ]
            for a in found
        ],
        empty="no accounts",
    )


@accounts.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(name: str, as_json: bool) -> None:
    """One account: its Stedi ids and credentials (kinds, names and expiry; never a secret)."""
    account = with_store(lambda store: store.fetch_account(name))
    if account is None:
        raise click.ClickException(f"no account named {name!r}")
    now = utc_now()
    shown = account_json(account, now)
    if as_json:
        emit_json(shown)
        return
    del shown["credentials"]  # listed below as a table
    fields({**shown, "created_at": human_time(account.created_at, now)})
    table(
        ["CREDENTIAL", "NAME", "EXPIRES", "VALID"],
        [
            [
                c.kind.value,
                c.name,
                human_time(c.expires_at, now),
                "yes" if c.is_valid_at(now) else "no",
            ]
            for c in account.credentials
        ],
        empty="no credentials",
    )


@accounts.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def remove(name: str, yes: bool, as_json: bool) -> None:
    """Remove an account; its stored events are kept."""
    confirm(f"Remove account {name}?", yes=yes, refusal="pass --yes to remove")
    removed = with_store(
        lambda store: remove_account(store, name, now=utc_now(), actor=cli_actor())
    )
    if not removed:
        raise click.ClickException(f"no account named {name!r}")
    if as_json:
        emit_json({"removed": name})
        return
    click.echo(f"removed {name}")
