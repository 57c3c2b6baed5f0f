"""outbound_client and outbound_transport: which transport RECEIVER_OUTBOUND_HTTP gives, and
what an injected one keeps."""

from __future__ import annotations

import httpx
import pytest

from receiver.net.client import outbound_client, outbound_transport
from receiver.net.transport import AiohttpTransport

pytestmark = pytest.mark.anyio


async def test_each_backend_gives_its_transport() -> None:
    aiohttp_transport = outbound_transport("aiohttp")
    httpx_transport = outbound_transport("httpx")
    try:
        assert type(aiohttp_transport) is AiohttpTransport
        assert type(httpx_transport) is httpx.AsyncHTTPTransport
    finally:
        await aiohttp_transport.aclose()
        await httpx_transport.aclose()


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="aiohttp, httpx"):
        outbound_transport("requests")


async def test_an_injected_transport_is_used_and_nothing_is_followed_or_kept() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert "cookie" not in request.headers
        return httpx.Response(302, headers={"Location": "/next", "Set-Cookie": "a=b"})

    async with outbound_client(transport=httpx.MockTransport(answer)) as http:
        first = await http.get("https://example.test/")
        second = await http.get("https://example.test/")

    assert (first.status_code, second.status_code) == (302, 302)
    assert not http.cookies


async def test_over_aiohttp_httpx_reads_no_proxy_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx would mount its own httpcore proxy transports over ours from HTTPS_PROXY."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    async with outbound_client(backend="aiohttp") as over_aiohttp:
        assert over_aiohttp.trust_env is False
        assert over_aiohttp._mounts == {}
    async with outbound_client(backend="httpx") as over_httpx:
        assert over_httpx.trust_env is True
