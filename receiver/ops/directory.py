"""OAuth clients and Stedi accounts as ops change them: each change stored, then audited
(ids, names and credential kinds only; never a secret)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from receiver.auth.clients import revoke_client, rotate_client
from receiver.errors import NotFoundError
from receiver.models import Account, Actor, AuditAction, Client
from receiver.ops.trail import record
from receiver.store.base import Store


async def client_named(store: Store, name: str) -> Client:
    """A client by its local name; NotFoundError if there is none."""
    client = await store.fetch_client_by_name(name)
    if client is None:
        raise NotFoundError(f"no client named {name!r}")
    return client


async def add_client(store: Store, client: Client, *, now: datetime, actor: Actor) -> None:
    """Store a new client and audit it (its scopes; never its secret)."""
    await store.add_client(client)
    scopes = {"name": client.name, "scopes": list(client.scopes)}
    await record(
        store, actor, AuditAction.CLIENT_CREATE, now=now, target=client.client_id, filter=scopes
    )


async def rotate_client_secret(
    store: Store, name: str, *, now: datetime, grace: timedelta, actor: Actor
) -> tuple[Client, str]:
    """Issue a client a new secret (the old one valid for `grace`), audited; the client and
    its new plaintext secret."""
    rotated, secret = rotate_client(await client_named(store, name), now, grace)
    await store.update_client(rotated)
    scope = {"name": name, "grace_seconds": int(grace.total_seconds())}
    await record(
        store, actor, AuditAction.CLIENT_ROTATE, now=now, target=rotated.client_id, filter=scope
    )
    return rotated, secret


async def revoke_client_named(store: Store, name: str, *, now: datetime, actor: Actor) -> None:
    """Revoke a client by name, audited."""
    revoked = revoke_client(await client_named(store, name), now)
    await store.update_client(revoked)
    await record(
        store,
        actor,
        AuditAction.CLIENT_REVOKE,
        now=now,
        target=revoked.client_id,
        filter={"name": name},
    )


async def add_account(store: Store, account: Account, *, now: datetime, actor: Actor) -> None:
    """Store a new Stedi account and audit it (its credential kinds; never a secret)."""
    await store.add_account(account)
    kinds = {"credentials": sorted({c.kind.value for c in account.credentials})}
    await record(store, actor, AuditAction.ACCOUNT_ADD, now=now, target=account.name, filter=kinds)


async def change_account(
    store: Store,
    name: str,
    change: Callable[[Account], Account],
    *,
    changed: list[str],
    now: datetime,
    actor: Actor,
) -> None:
    """Replace an account by `change(account)` (a rotation), audited with the names of what
    `changed`; NotFoundError if there is no such account."""
    account = await store.fetch_account(name)
    if account is None:
        raise NotFoundError(f"no account named {name!r}")
    await store.update_account(change(account))
    await record(
        store, actor, AuditAction.ACCOUNT_ROTATE, now=now, target=name, filter={"changed": changed}
    )


async def remove_account(store: Store, name: str, *, now: datetime, actor: Actor) -> bool:
    """Remove an account (its events are kept), audited; False if there was none."""
    if not await store.remove_account(name):
        return False
    await record(store, actor, AuditAction.ACCOUNT_REMOVE, now=now, target=name)
    return True
