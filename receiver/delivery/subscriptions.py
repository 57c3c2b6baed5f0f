"""Subscription records (mostly pure): secrets, type patterns, destination checks, life cycle."""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from receiver.errors import BadRequestError, ConflictError
from receiver.ids import new_id
from receiver.models import Account, Subscription, SubscriptionStatus
from receiver.net.ssrf import DestinationError, Resolver, check_destination_url, resolve_public

MAX_PATTERNS = 20
MAX_PATTERN_CHARS = 200
MAX_URL_CHARS = 2000
MAX_DESCRIPTION_CHARS = 500
MAX_ACCOUNT_CHARS = 64
SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret

_NAME = r"[a-z0-9_]+(?:\.[a-z0-9_]+)*"
_PATTERN = re.compile(rf"\*|{_NAME}(?:\.\*)?")


class AccountLookup(Protocol):
    """Finds a Stedi account by name; the Store satisfies it."""

    async def fetch_account(self, name: str) -> Account | None:
        """An account by its local name."""


def generate_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode("ascii")


def validate_patterns(types: object) -> tuple[str, ...]:
    """1 to MAX_PATTERNS type patterns (`*`, `a.b.c` or `a.b.*`), deduplicated in order;
    BadRequestError naming the first bad one otherwise."""
    if isinstance(types, str) or not isinstance(types, Sequence):
        raise BadRequestError("types must be a list of event type patterns")
    if not types:
        raise BadRequestError("types must name at least one event type pattern, e.g. 'claim.*'")
    if len(types) > MAX_PATTERNS:
        raise BadRequestError(f"types may hold at most {MAX_PATTERNS} patterns")
    chosen: list[str] = []
    for item in types:
        if not isinstance(item, str):
            raise BadRequestError("each type pattern must be a string")
        if len(item) > MAX_PATTERN_CHARS or not _PATTERN.fullmatch(item):
            shown = item if len(item) <= 80 else item[:80] + "..."
            raise BadRequestError(
                f"type pattern {shown!r} is not valid: use '*', an event type such as "
                "'claim.remittance.received', or a prefix such as 'claim.*' (lower-case "
                "letters, digits and '_' in dot-separated parts)"
            )
        if item not in chosen:
            chosen.append(item)
    return tuple(chosen)


def validate_description(description: object) -> str:
    """A description of at most MAX_DESCRIPTION_CHARS characters ('' when absent)."""
    if description is None:
        return ""
    if not isinstance(description, str):
        raise BadRequestError("description must be a string")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise BadRequestError(f"description may be at most {MAX_DESCRIPTION_CHARS} characters")
    return description


async def check_account(accounts: AccountLookup, account: object) -> str | None:
    """The account filter if it names a configured Stedi account (None: every account)."""
    if account is None:
        return None
    if not isinstance(account, str) or not 1 <= len(account) <= MAX_ACCOUNT_CHARS:
        raise BadRequestError(f"account must be a name of 1-{MAX_ACCOUNT_CHARS} characters")
    if await accounts.fetch_account(account) is None:
        raise BadRequestError(f"account {account!r} is not a configured Stedi account")
    return account


async def check_url(url: object, *, allow_insecure: bool, resolver: Resolver) -> str:
    """The destination URL if it is https (or http when `allow_insecure`) and every address
    its host resolves to is public (any address when `allow_insecure`); BadRequestError
    saying why otherwise."""
    if not isinstance(url, str) or not url:
        raise BadRequestError("url is required: the https URL deliveries are POSTed to")
    if len(url) > MAX_URL_CHARS:
        raise BadRequestError(f"url may be at most {MAX_URL_CHARS} characters")
    try:
        _scheme, host, port = check_destination_url(url, allow_insecure=allow_insecure)
        await resolve_public(host, port, allow_insecure=allow_insecure, resolver=resolver)
    except DestinationError as exc:
        raise BadRequestError(f"url refused: {exc}") from None
    return url


class SubscriptionStore(AccountLookup, Protocol):
    """What creating a subscription needs from the Store."""

    async def add_subscription(self, subscription: Subscription) -> None:
        """Store a new subscription."""


async def create_subscription(
    store: SubscriptionStore,
    *,
    url: object,
    types: object,
    account: object,
    description: object,
    now: datetime,
    allow_insecure: bool,
    resolver: Resolver,
) -> Subscription:
    """Validate every input (cheap checks before DNS), then store a new subscription."""
    patterns = validate_patterns(types)
    text = validate_description(description)
    account_filter = await check_account(store, account)
    checked = await check_url(url, allow_insecure=allow_insecure, resolver=resolver)
    sub = new_subscription(checked, patterns, account_filter, text, now)
    await store.add_subscription(sub)
    return sub


def new_subscription(
    url: str,
    types: tuple[str, ...],
    account: str | None,
    description: str,
    now: datetime,
) -> Subscription:
    """A new active subscription with a fresh signing secret (inputs already validated)."""
    return Subscription(
        id=new_id("sub"),
        url=url,
        type_patterns=types,
        account=account,
        description=description,
        secret=generate_secret(),
        status=SubscriptionStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )


def rotate_secret(sub: Subscription, now: datetime, grace_seconds: int) -> Subscription:
    """A new secret; the old one keeps signing too until `now + grace_seconds` (0: dropped).

    ConflictError for a removed subscription, BadRequestError for a negative grace.
    """
    _not_removed(sub)
    if grace_seconds < 0:
        raise BadRequestError("the grace period for the old secret must not be negative")
    keep_old = grace_seconds > 0
    return dataclasses.replace(
        sub,
        secret=generate_secret(),
        previous_secret=sub.secret if keep_old else None,
        previous_expires_at=now + timedelta(seconds=grace_seconds) if keep_old else None,
        updated_at=now,
    )


def enable(sub: Subscription, now: datetime) -> Subscription:
    """The subscription active again, its failure record cleared; ConflictError if removed."""
    _not_removed(sub)
    return dataclasses.replace(
        sub,
        status=SubscriptionStatus.ACTIVE,
        disabled_reason=None,
        failing_since=None,
        updated_at=now,
    )


def remove(sub: Subscription, now: datetime) -> Subscription:
    """The subscription removed as of `now` (unchanged if it already was)."""
    if sub.status == SubscriptionStatus.REMOVED:
        return sub
    return dataclasses.replace(sub, status=SubscriptionStatus.REMOVED, updated_at=now)


def _not_removed(sub: Subscription) -> None:
    if sub.status == SubscriptionStatus.REMOVED:
        raise ConflictError(f"subscription {sub.id} is removed; add a new one instead")
