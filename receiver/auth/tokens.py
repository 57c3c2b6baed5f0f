"""Access tokens: RFC 9068 JWTs signed with ES256, issued and verified against a given `now`."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt.types import Options

from receiver.auth.keys import SigningKey
from receiver.errors import BearerError
from receiver.models import Client

ALGORITHM = "ES256"
LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 8192
_MAX_TIMESTAMP = 253_402_300_800  # 10000-01-01T00:00:00Z
_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti", "client_id"]
# PyJWT compares exp/iat/nbf with the real clock; we check them against the injected `now`.
_DECODE_OPTIONS: Options = {
    "require": _REQUIRED,
    "verify_signature": True,
    "verify_aud": True,
    "verify_iss": True,
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
}


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified access token says: who it was issued to, for what, until when."""

    client_id: str
    subject: str
    scopes: frozenset[str]
    expires_at: datetime
    jti: str


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token whose header, signature, `iss`, `aud` and claim types checked out, with the
    `kid` that verified it and its time claims (POSIX seconds), to be held against a `now`."""

    claims: TokenClaims
    kid: str
    expires: float
    issued: float
    not_before: float | None

    def claims_at(self, now: datetime) -> TokenClaims:
        """The claims if `exp`/`iat`/`nbf` hold at `now` (30 s leeway); BearerError otherwise."""
        moment = now.timestamp()
        if self.expires <= moment - LEEWAY_SECONDS:
            raise _invalid("token has expired")
        if self.issued > moment + LEEWAY_SECONDS:
            raise _invalid("token is not valid yet")
        if self.not_before is not None and self.not_before > moment + LEEWAY_SECONDS:
            raise _invalid("token is not valid yet")
        return self.claims


def issue_access_token(
    key: SigningKey,
    client: Client,
    scopes: tuple[str, ...],
    *,
    issuer: str,
    audience: str,
    now: datetime,
    ttl_seconds: int,
) -> str:
    """An RFC 9068 access token for `client` carrying `scopes`, valid for `ttl_seconds`."""
    issued_at = int(now.timestamp())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": client.client_id,
        "client_id": client.client_id,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl_seconds,
        "jti": secrets.token_urlsafe(16),
        "scope": " ".join(scopes),
    }
    headers = {"typ": "at+jwt", "kid": key.kid}
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers=headers)


def verify_access_token(
    token: str,
    keys: Mapping[str, SigningKey],
    *,
    issuer: str,
    audience: str,
    now: datetime,
) -> TokenClaims:
    """The claims of a valid access token; BearerError("invalid_token") for anything else.

    The header must say `typ` at+jwt, `alg` ES256 and a known `kid`; the signature, `iss`
    and `aud` must check out, and `exp`/`nbf`/`iat` must hold at `now` (30 s leeway).
    """
    return verify_token_signature(token, keys, issuer=issuer, audience=audience).claims_at(now)


def verify_token_signature(
    token: str,
    keys: Mapping[str, SigningKey],
    *,
    issuer: str,
    audience: str,
) -> VerifiedToken:
    """Everything `verify_access_token` checks except the time claims, which the result's
    `claims_at(now)` checks (so a cache can repeat that part alone); BearerError otherwise."""
    key = _select_key(token, keys)
    try:
        payload = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options=_DECODE_OPTIONS,
        )
    except jwt.InvalidSignatureError:
        raise _invalid("signature does not verify") from None
    except jwt.InvalidAudienceError:
        raise _invalid("token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise _invalid("token is from another issuer") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _invalid(f"token lacks the {exc.claim} claim") from None
    except jwt.PyJWTError:
        raise _invalid("token is malformed") from None
    return _verified(payload, key.kid)


def _select_key(token: str, keys: Mapping[str, SigningKey]) -> SigningKey:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise _invalid("token is malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _invalid("token is malformed") from None
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _TYPES:
        raise _invalid("token is not an access token (typ)")
    if header.get("alg") != ALGORITHM:
        raise _invalid("token algorithm is not accepted")
    if "crit" in header:
        raise _invalid("token has critical header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise _invalid("token key is unknown")
    return keys[kid]


def _verified(payload: dict[str, Any], kid: str) -> VerifiedToken:
    exp = _numeric(payload, "exp")
    iat = _numeric(payload, "iat")
    nbf = _numeric(payload, "nbf") if "nbf" in payload else None
    client_id, subject, jti = payload["client_id"], payload["sub"], payload["jti"]
    scope = payload.get("scope", "")
    if not all(isinstance(v, str) for v in (client_id, subject, jti, scope)):
        raise _invalid("token is malformed")
    claims = TokenClaims(
        client_id=client_id,
        subject=subject,
        scopes=frozenset(scope.split()),
        expires_at=datetime.fromtimestamp(exp, UTC),
        jti=jti,
    )
    return VerifiedToken(claims=claims, kid=kid, expires=exp, issued=iat, not_before=nbf)


def _numeric(payload: dict[str, Any], claim: str) -> float:
    value = payload[claim]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"token {claim} is not a number")
    # Bounded so that datetime can represent it (and NaN, which compares false, is refused).
    if not 0 <= value < _MAX_TIMESTAMP:
        raise _invalid(f"token {claim} is out of range")
    return float(value)


def _invalid(reason: str) -> BearerError:
    return BearerError("invalid_token", reason)
