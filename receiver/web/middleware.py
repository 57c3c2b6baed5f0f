"""Request ids and access logs, as a pure ASGI middleware (no body buffering)."""

from __future__ import annotations

import re
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from receiver.entropy import random_bytes

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_log = structlog.get_logger("receiver.web")


_CRASH_BODY = b'{"error":"internal_error","detail":"internal error"}'


class RequestIdMiddleware:
    """Give every request an id (a sane incoming `x-request-id` is kept), bind it to the
    logs, echo it on the response, and log one `request.completed` line with the route
    template (never the raw path, which may carry identifiers).

    It is also the last line for bugs: an exception nothing else handled is logged by type
    only (its message and traceback may quote PHI) and answered with a bare JSON 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else random_bytes(16).hex()
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            _log.error("request.crashed", error_type=type(exc).__name__)
            if not started_response:
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send_with_id({"type": "http.response.body", "body": _CRASH_BODY})
        finally:
            route = scope.get("route")
            _log.info(
                "request.completed",
                method=scope["method"],
                route=getattr(route, "path", "unmatched"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()
