"""The one place errors become HTTP responses: ReceiverError subclasses and Starlette's own
HTTPException (404 route, 405 method). Unexpected exceptions end in RequestIdMiddleware."""

from __future__ import annotations

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from receiver.errors import BearerError, OAuthError, ReceiverError

_log = structlog.get_logger("receiver.web")


def error_body(exc: ReceiverError) -> dict[str, str]:
    """`{"error", "error_description"}` for OAuth, `{"error", "detail"}` elsewhere."""
    if isinstance(exc, OAuthError):
        return {"error": exc.code, "error_description": exc.detail}
    return {"error": exc.code, "detail": exc.detail}


async def receiver_error(request: Request, exc: Exception) -> Response:
    """Render a ReceiverError with its status and headers."""
    assert isinstance(exc, ReceiverError)  # noqa: S101 - registered for ReceiverError only
    headers = dict(exc.headers)
    if isinstance(exc, OAuthError):
        headers.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
    if exc.status_code >= 500:
        _log.warning("request.failed", error=exc.code, status=exc.status_code)
    elif not isinstance(exc, BearerError | OAuthError):
        _log.info("request.rejected", error=exc.code, status=exc.status_code)
    return JSONResponse(error_body(exc), status_code=exc.status_code, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's routing errors in our JSON shape."""
    assert isinstance(exc, HTTPException)  # noqa: S101
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        {"error": code, "detail": str(exc.detail)},
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )
