"""RequestIdMiddleware: request ids, and a bare JSON 500 for bugs without leaking their text."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from structlog.testing import capture_logs

from receiver.web.middleware import RequestIdMiddleware


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def crash(request: Request) -> PlainTextResponse:
    raise KeyError("member ZZT000123401")


pytestmark = pytest.mark.anyio


def client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/ok", ok), Route("/crash", crash)],
        middleware=[Middleware(RequestIdMiddleware)],
    )
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_generates_and_echoes_request_id() -> None:
    async with client() as c:
        generated = (await c.get("/ok")).headers["x-request-id"]
        assert len(generated) == 32
        kept = await c.get("/ok", headers={"x-request-id": "abc-123"})
        assert kept.headers["x-request-id"] == "abc-123"
        odd = await c.get("/ok", headers={"x-request-id": "bad id"})
        assert odd.headers["x-request-id"] != "bad id"


async def test_crash_is_a_bare_json_500_logged_by_type_only() -> None:
    with capture_logs() as logs:
        async with client() as c:
            response = await c.get("/crash")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "detail": "internal error"}
    assert "x-request-id" in response.headers
    assert {"event": "request.crashed", "error_type": "KeyError", "log_level": "error"} in [
        {k: v for k, v in entry.items() if k in {"event", "error_type", "log_level"}}
        for entry in logs
    ]
    assert "ZZT000123401" not in repr(logs)
