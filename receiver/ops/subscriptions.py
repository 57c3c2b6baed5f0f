"""Subscriptions as ops see them: JSON renderings, with or without the signing secret."""

from __future__ import annotations

from typing import Any

from receiver.models import Subscription


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
