"""OAuth routes: the client-credentials token endpoint, JWKS and RFC 8414 metadata."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from receiver.auth.endpoint import exchange_client_credentials
from receiver.auth.keys import jwks
from receiver.auth.metadata import authorization_server_metadata
from receiver.errors import OAuthError, TooManyRequestsError
from receiver.web.body import read_body
from receiver.web.deps import ORJSONResponse, services

TOKEN_BODY_LIMIT = 16 * 1024
# How long a verifier may cache the JWKS; RECEIVER_SIGNING_KEY_ROTATION_DELAY_SECONDS must
# exceed it, so that nothing is signed with a key a cache has not seen yet.
JWKS_MAX_AGE_SECONDS = 300
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def token(request: Request) -> Response:
    """POST /oauth/token (RFC 6749 §4.4)."""
    svc = services(request)
    body = await read_body(request, TOKEN_BODY_LIMIT)
    try:
        issued = await _exchange(request, body)
    except TooManyRequestsError as exc:
        # Same shape as every other token-endpoint error (RFC 6749 §5.2 has no 429 code).
        raise OAuthError(
            "too_many_requests", exc.detail, status_code=429, headers=exc.headers
        ) from None
    svc.metrics.tokens_issued.inc()
    return ORJSONResponse(issued, headers=_NO_STORE)


async def _exchange(request: Request, body: bytes) -> dict[str, object]:
    svc = services(request)
    now = svc.clock()
    return await exchange_client_credentials(
        store=svc.store,
        key=svc.keys.at(now).signing,
        throttle=svc.throttle,
        # The peer, or the client a trusted proxy names (RECEIVER_FORWARDED_ALLOW_IPS).
        source=request.client.host if request.client else None,
        authorization=request.headers.get("authorization"),
        content_type=request.headers.get("content-type"),
        body=body,
        issuer=svc.settings.public_url,
        audience=svc.settings.public_url,
        now=now,
        ttl_seconds=svc.settings.token_ttl_seconds,
    )


async def jwks_document(request: Request) -> Response:
    """GET /.well-known/jwks.json: every key that signs or still verifies, and the next one."""
    svc = services(request)
    published = svc.keys.at(svc.clock()).verifying.values()
    return ORJSONResponse(
        jwks(list(published)),
        headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"},
    )


async def server_metadata(request: Request) -> Response:
    """GET /.well-known/oauth-authorization-server (RFC 8414)."""
    return ORJSONResponse(authorization_server_metadata(services(request).settings.public_url))
