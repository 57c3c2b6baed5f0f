"""What route handlers share: the app's Services, a Bearer guard (and the audit Actor it
names), and a fast JSON response."""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse

from receiver.auth.guard import authorize_bearer
from receiver.auth.tokens import TokenClaims
from receiver.ids import new_id
from receiver.models import Actor
from receiver.web.services import Services


class ORJSONResponse(JSONResponse):
    """JSONResponse rendered with orjson (datetimes as ISO-8601)."""

    def render(self, content: Any) -> bytes:
        """Serialise with orjson."""
        return orjson.dumps(content)


def services(request: Request) -> Services:
    """The Services the lifespan put in the request state."""
    found: Services = request.state.services
    return found


async def require_scope(request: Request, scope: str) -> TokenClaims:
    """Authorise the request's Bearer token for `scope` (401/403 BearerError otherwise).

    Through the app's caches: a token's signature is verified once, and its client is read
    from the store at most once per RECEIVER_DIRECTORY_CACHE_SECONDS.
    """
    svc = services(request)
    now = svc.clock()
    return await authorize_bearer(
        store=svc.directory,
        keys=svc.keys.at(now).verifying,
        authorization=request.headers.get("authorization"),
        scope=scope,
        issuer=svc.settings.public_url,
        audience=svc.settings.public_url,
        now=now,
        tokens=svc.tokens,
    )


async def require_actor(request: Request, scope: str) -> Actor:
    """`require_scope`, then who is acting for the audit trail: the token's client id, under
    the request id `RequestIdMiddleware` bound to the logs."""
    claims = await require_scope(request, scope)
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return Actor(who=claims.client_id, request_id=str(request_id or new_id("req")))
