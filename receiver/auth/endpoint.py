"""The token endpoint use case: the RFC 6749 §4.4 client credentials grant, framework-free."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn
from urllib.parse import parse_qsl, unquote_plus

import structlog

from receiver.auth.clients import ClientLookup, authenticate_client
from receiver.auth.keys import SigningKey
from receiver.auth.throttle import FailureThrottle, source_key
from receiver.auth.tokens import issue_access_token
from receiver.errors import OAuthError, TooManyRequestsError, invalid_client

__all__ = ["ClientLookup", "exchange_client_credentials"]

FORM_TYPE = "application/x-www-form-urlencoded"
GRANT_TYPE = "client_credentials"
MAX_CLIENT_ID_LENGTH = 128
MAX_FIELDS = 32

_log = structlog.get_logger(__name__)
_OUR_ID = re.compile(r"cli_[0-9a-z]{26}")


@dataclass(frozen=True, slots=True)
class _Credentials:
    client_id: str
    secret: str
    method: str


async def exchange_client_credentials(
    *,
    store: ClientLookup,
    key: SigningKey,
    throttle: FailureThrottle,
    source: str | None,
    authorization: str | None,
    content_type: str | None,
    body: bytes,
    issuer: str,
    audience: str,
    now: datetime,
    ttl_seconds: int,
) -> dict[str, object]:
    """Authenticate the client and answer with an access token (RFC 6749 §5.1).

    Raises OAuthError (RFC 6749 §5.2 codes) for a bad request or failed authentication, and
    TooManyRequestsError for a failed one from a `source` (the client's address) that is
    locked out; correct credentials succeed whatever their source did before. The caller
    adds `Cache-Control: no-store` and `Pragma: no-cache` to the response.
    """
    params = _parse_form(content_type, body)
    grant_type = params.get("grant_type")
    if grant_type is None:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant_type != GRANT_TYPE:
        raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
    creds = _client_credentials(authorization, params)
    client = await store.fetch_client(creds.client_id)
    # Always hash and compare, even for an unknown id, so timing does not reveal which ids exist.
    authenticated = authenticate_client(client, creds.secret, now)
    if client is None or not authenticated:
        _refuse(throttle, creds, source, now)
    scopes = _granted_scopes(params.get("scope"), client.scopes)
    token = issue_access_token(
        key, client, scopes, issuer=issuer, audience=audience, now=now, ttl_seconds=ttl_seconds
    )
    _log.info("oauth.token.issued", client_id=client.client_id, scope=" ".join(scopes))
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl_seconds,
        "scope": " ".join(scopes),
    }


def _refuse(
    throttle: FailureThrottle, creds: _Credentials, source: str | None, now: datetime
) -> NoReturn:
    failure = throttle.record_failure(source_key(source), now)
    if failure.retry_after is not None:
        raise TooManyRequestsError(
            "too many failed authentications; try again later", retry_after=failure.retry_after
        )
    # Log the presented id only if it has our ids' shape: a client that swapped its id and
    # secret must not get the secret written to the log.
    shown = creds.client_id if _OUR_ID.fullmatch(creds.client_id) else "(not a client id)"
    address = source or "unknown"
    _log.warning("oauth.client.auth_failed", client_id=shown, method=creds.method, address=address)
    if failure.locks_out:
        _log.warning(
            "oauth.client.locked_out",
            client_id=shown,
            address=address,
            failures=throttle.limit,
            window_seconds=int(throttle.window.total_seconds()),
        )
    raise invalid_client()


def _parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_TYPE:
        raise OAuthError("invalid_request", f"the request body must be {FORM_TYPE}")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:  # UnicodeDecodeError included
        raise OAuthError("invalid_request", "the request body is not valid form data") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise OAuthError("invalid_request", f"parameter {name} is repeated")
        params[name] = value
    # RFC 6749 §3.2: a parameter sent without a value is treated as omitted.
    return {name: value for name, value in params.items() if value}


def _client_credentials(authorization: str | None, params: dict[str, str]) -> _Credentials:
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
    if authorization is not None:
        if body_secret is not None:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        creds = _parse_basic(authorization)
        # RFC 6749 §2.3.1 lets clients repeat their id in the body; it must then agree.
        if body_id is not None and body_id != creds.client_id:
            raise OAuthError("invalid_request", "client_id does not match the Authorization header")
    elif body_id is not None and body_secret is not None:
        creds = _Credentials(body_id, body_secret, "client_secret_post")
    else:
        raise invalid_client()
    if len(creds.client_id) > MAX_CLIENT_ID_LENGTH:
        raise invalid_client()
    return creds


def _parse_basic(authorization: str) -> _Credentials:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise invalid_client()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        raw_id, sep, raw_secret = decoded.partition(":")
        # RFC 6749 §2.3.1: both halves are form-urlencoded before being joined.
        client_id = unquote_plus(raw_id, errors="strict")
        secret = unquote_plus(raw_secret, errors="strict")
    except (binascii.Error, ValueError):
        raise invalid_client() from None
    if not sep or not client_id or not secret:
        raise invalid_client()
    return _Credentials(client_id, secret, "client_secret_basic")


def _granted_scopes(requested: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    wanted = set((requested or "").split())
    if not wanted:
        return allowed
    refused = wanted - set(allowed)
    if refused:
        names = " ".join(sorted(refused))
        raise OAuthError("invalid_scope", f"scope not granted to this client: {names}")
    return tuple(scope for scope in allowed if scope in wanted)
