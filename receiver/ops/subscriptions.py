"""Subscriptions as ops see them: JSON renderings (with or without the signing secret), and
the audited changes both edges make: create, remove, rotate the secret, enable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from receiver.delivery import subscriptions as domain
from receiver.models import Actor, AuditAction, Subscription
from receiver.ops.trail import record
from receiver.store.base import Store


def subscription_json(sub: Subscription) -> dict[str, Any]:
    """The public JSON form of a subscription, without its secrets."""
    return {
        "id": sub.id,
        "url": sub.url,
        "types": list(sub.type_patterns),
        "account": sub.account,
        "description": sub.description,
        "status": sub.status.value,
        "disabled_reason": sub.disabled_reason,
        "failing_since": sub.failing_since.isoformat() if sub.failing_since else None,
        "created_at": sub.created_at.isoformat(),
        "updated_at": sub.updated_at.isoformat(),
    }


def with_secret(sub: Subscription) -> dict[str, Any]:
    """The public JSON form plus the current secret and when the previous one stops signing
    (only in the answers that create or rotate it)."""
    expires = sub.previous_expires_at.isoformat() if sub.previous_expires_at else None
    return {**subscription_json(sub), "secret": sub.secret, "previous_secret_expires_at": expires}


async def create(
    store: Store,
    *,
    url: object,
    types: object,
    account: object,
    description: object,
    now: datetime,
    allow_insecure: bool,
    resolver: Callable[[str, int], Awaitable[list[str]]],  # net.ssrf.Resolver
    actor: Actor,
) -> Subscription:
    """Validate and store a new subscription (see `create_subscription`), and audit it."""
    sub = await domain.create_subscription(
        store,
        url=url,
        types=types,
        account=account,
        description=description,
        now=now,
        allow_insecure=allow_insecure,
        resolver=resolver,
    )
    scope = {"types": list(sub.type_patterns), "account": sub.account}
    await record(
        store, actor, AuditAction.SUBSCRIPTION_CREATE, now=now, target=sub.id, filter=scope
    )
    return sub


async def remove(store: Store, sub: Subscription, *, now: datetime, actor: Actor) -> bool:
    """Remove a subscription and audit it; False (nothing written) if it already was."""
    removed = domain.remove(sub, now)
    if removed is sub:
        return False
    await store.update_subscription(removed)
    await record(store, actor, AuditAction.SUBSCRIPTION_REMOVE, now=now, target=sub.id)
    return True


async def rotate(
    store: Store, sub: Subscription, *, now: datetime, grace_seconds: int, actor: Actor
) -> Subscription:
    """Give a subscription a new signing secret (see `rotate_secret`), and audit it."""
    rotated = domain.rotate_secret(sub, now, grace_seconds)
    await store.update_subscription(rotated)
    grace = {"grace_seconds": grace_seconds}
    await record(
        store, actor, AuditAction.SUBSCRIPTION_ROTATE, now=now, target=sub.id, filter=grace
    )
    return rotated


async def enable(store: Store, sub: Subscription, *, now: datetime, actor: Actor) -> Subscription:
    """Make a subscription active again (see `enable`), what waited for it due at once, and
    audit it."""
    enabled = domain.enable(sub, now)
    await store.update_subscription(enabled)
    await store.release_held_deliveries(sub.id, now=now)
    await record(store, actor, AuditAction.SUBSCRIPTION_ENABLE, now=now, target=sub.id)
    return enabled
