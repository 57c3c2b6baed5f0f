"""The verified-token cache: an access token's signature is checked once, then trusted until exp.

Entries are keyed by the SHA-256 digest of the token, never the token itself, so the cache
(in a heap dump, a debugger, a log of its keys) holds no bearer token. Each hit re-checks
`exp`/`iat`/`nbf` against the caller's `now` exactly as a full verification would, and is
used only for the same issuer, audience and signing key it was verified with. Only successes
are stored; the client's active check and scopes stay with the caller (the Bearer guard).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from receiver.auth.keys import SigningKey
from receiver.auth.tokens import (
    MAX_TOKEN_LENGTH,
    TokenClaims,
    VerifiedToken,
    verify_access_token,
    verify_token_signature,
)
from receiver.errors import BearerError


class SignatureCheck(Protocol):
    """Checks a token's signature and every claim but the times (`verify_token_signature`)."""

    def __call__(
        self, token: str, keys: Mapping[str, SigningKey], *, issuer: str, audience: str
    ) -> VerifiedToken: ...


def token_digest(token: str) -> bytes:
    """The cache key for `token`: its SHA-256 digest."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class _Entry:
    verified: VerifiedToken
    issuer: str
    audience: str
    key: SigningKey


def _same_context(
    entry: _Entry, keys: Mapping[str, SigningKey], issuer: str, audience: str
) -> bool:
    """True when `entry` was verified for this issuer, audience and (the same) signing key."""
    return (
        entry.issuer == issuer
        and entry.audience == audience
        and keys.get(entry.verified.kid) is entry.key
    )


class TokenCache:
    """Verified access tokens, least recently used evicted beyond `max_entries` (0: off)."""

    def __init__(
        self, max_entries: int, *, verify_signature: SignatureCheck = verify_token_signature
    ) -> None:
        self._max = max(0, max_entries)
        self._verify_signature = verify_signature
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token_digest(token) in self._entries

    def verify(
        self,
        token: str,
        keys: Mapping[str, SigningKey],
        *,
        issuer: str,
        audience: str,
        now: datetime,
    ) -> TokenClaims:
        """What `verify_access_token` answers, without repeating the signature check for a
        token already verified (for the same issuer, audience and key)."""
        if self._max == 0 or not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            return verify_access_token(token, keys, issuer=issuer, audience=audience, now=now)
        digest = token_digest(token)
        entry = self._entries.get(digest)
        if entry is not None and _same_context(entry, keys, issuer, audience):
            try:
                claims = entry.verified.claims_at(now)
            except BearerError:
                del self._entries[digest]
                raise
            self._entries.move_to_end(digest)
            return claims
        verified = self._verify_signature(token, keys, issuer=issuer, audience=audience)
        claims = verified.claims_at(now)  # raises before anything is stored
        self._entries[digest] = _Entry(verified, issuer, audience, keys[verified.kid])
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return claims
