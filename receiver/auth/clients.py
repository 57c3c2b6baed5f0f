"""OAuth client records (pure): scopes, creation, rotation, revocation, authentication."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from receiver.auth.secrets import (
    hash_secret,
    new_client_id,
    new_client_secret,
    secret_matches,
)
from receiver.errors import ConfigError
from receiver.models import Client

SCOPES: frozenset[str] = frozenset(
    {
        "callbacks:coverage-discovery",
        "events:read",
        "events:replay",
        "subscriptions:write",
        "eligibility:write",
        "enrollment:write",
        "audit:read",
    }
)

_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Compared against when there is no real hash, so that an unknown client costs the same
# hashing work as a known one with a wrong secret.
_DUMMY_HASH = "0" * 64  # no secret hashes to this


class ClientLookup(Protocol):
    """Finds a client by id; the Store satisfies it."""

    async def fetch_client(self, client_id: str) -> Client | None:
        """A client by its client_id, revoked ones included."""


def validate_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The given scopes, deduplicated and sorted; ConfigError if one is unknown or none given."""
    chosen = set(scopes)
    if not chosen:
        raise ConfigError(f"give at least one scope; valid scopes: {', '.join(sorted(SCOPES))}")
    unknown = sorted(chosen - SCOPES)
    if unknown:
        raise ConfigError(
            f"unknown scope {', '.join(unknown)}; valid scopes: {', '.join(sorted(SCOPES))}"
        )
    return tuple(sorted(chosen))


def validate_name(name: str) -> str:
    """A client name of 1-64 characters from [A-Za-z0-9._-]; ConfigError otherwise."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"client name {name!r} must be 1-64 characters of letters, digits, '.', '_' or '-'"
        )
    return name


def new_client(name: str, scopes: Iterable[str], now: datetime) -> tuple[Client, str]:
    """A new client record and its plaintext secret (shown once, stored only hashed)."""
    secret = new_client_secret()
    client = Client(
        client_id=new_client_id(),
        name=validate_name(name),
        scopes=validate_scopes(scopes),
        secret_hash=hash_secret(secret),
        created_at=now,
    )
    return client, secret


def rotate_client(client: Client, now: datetime, grace: timedelta) -> tuple[Client, str]:
    """Give `client` a new secret; the old one keeps working until `now + grace`.

    A zero grace drops the old secret at once. ConfigError for a revoked client or a
    negative grace.
    """
    if not client.active:
        raise ConfigError(f"client {client.name} is revoked; create a new client instead")
    if grace < timedelta(0):
        raise ConfigError("the grace period for the old secret must not be negative")
    secret = new_client_secret()
    keep_old = grace > timedelta(0)
    rotated = dataclasses.replace(
        client,
        secret_hash=hash_secret(secret),
        previous_secret_hash=client.secret_hash if keep_old else None,
        previous_expires_at=now + grace if keep_old else None,
    )
    return rotated, secret


def revoke_client(client: Client, now: datetime) -> Client:
    """The client, revoked as of `now` (unchanged if it was already revoked)."""
    if not client.active:
        return client
    return dataclasses.replace(client, revoked_at=now)


def authenticate_client(client: Client | None, secret: str, now: datetime) -> bool:
    """True only for an active client presenting its current secret, or its previous secret
    before that one expires.

    Both comparisons always run, against a dummy hash where there is nothing real, so an
    unknown client, a revoked one and a wrong secret take the same work.
    """
    current = client.secret_hash if client else _DUMMY_HASH
    previous = client.previous_secret_hash if client else None
    matches_current = secret_matches(secret, current)
    matches_previous = secret_matches(secret, previous or _DUMMY_HASH)
    if client is None or not client.active:
        return False
    previous_valid = (
        previous is not None
        and client.previous_expires_at is not None
        and now < client.previous_expires_at
    )
    return matches_current or (matches_previous and previous_valid)
