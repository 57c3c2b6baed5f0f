"""The Bearer guard for protected routes: a valid token, an active client, the needed scope."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from receiver.auth.cache import TokenCache
from receiver.auth.clients import ClientLookup
from receiver.auth.keys import SigningKey
from receiver.auth.tokens import TokenClaims, verify_access_token
from receiver.errors import BearerError


async def authorize_bearer(
    *,
    store: ClientLookup,
    keys: Mapping[str, SigningKey],
    authorization: str | None,
    scope: str,
    issuer: str,
    audience: str,
    now: datetime,
    tokens: TokenCache | None = None,
) -> TokenClaims:
    """The claims of the request's Bearer token if it may use `scope` (RFC 6750).

    BearerError("invalid_token") for a missing, malformed or invalid token or a client that
    is gone or revoked; BearerError("insufficient_scope") when the token lacks `scope`.
    With `tokens`, a token verified before skips the signature check (its times are still
    checked at `now`); the client is looked up in `store` on every call either way.
    """
    token = _bearer_token(authorization)
    if tokens is None:
        claims = verify_access_token(token, keys, issuer=issuer, audience=audience, now=now)
    else:
        claims = tokens.verify(token, keys, issuer=issuer, audience=audience, now=now)
    client = await store.fetch_client(claims.client_id)
    if client is None or not client.active:
        raise BearerError("invalid_token", "client revoked")
    if scope not in claims.scopes or scope not in client.scopes:
        raise BearerError("insufficient_scope", f"this request needs scope {scope}", scope=scope)
    return claims


def _bearer_token(authorization: str | None) -> str:
    if authorization is None:
        raise BearerError("invalid_token", "a Bearer token is required")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise BearerError("invalid_token", "the Authorization header must be 'Bearer <token>'")
    return token
