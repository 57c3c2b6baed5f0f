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
    return await exchange_client_credentials(
        store=svc.store,
        key=svc.signing_key,
        throttle=svc.throttle,
        # The peer, or the client a trusted proxy names (RECEIVER_FORWARDED_ALLOW_IPS).
        source=request.client.host if request.client else None,
        authorization=request.headers.get("authorization"),
        content_type=request.headers.get("content-type"),
        body=body,
        issuer=svc.settings.public_url,
        audience=svc.settings.public_url,
        now=svc.clock(),
        ttl_seconds=svc.settings.token_ttl_seconds,
    )


async def jwks_document(request: Request) -> Response:
    """GET /.well-known/jwks.json."""
    return ORJSONResponse(jwks([services(request).signing_key]))


async def server_metadata(request: Request) -> Response:
    """GET /.well-known/oauth-authorization-server (RFC 8414)."""
    return ORJSONResponse(authorization_server_metadata(services(request).settings.public_url))
