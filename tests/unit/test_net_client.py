"""outbound_client and outbound_transport: which transport RECEIVER_OUTBOUND_HTTP gives, and
what an injected one keeps."""

from __future__ import annotations

import httpx
import pytest

from receiver.net.client import (
    AiohttpClient,
    DirectClient,
    outbound_client,
    outbound_transport,
    streaming_client,
)
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


async def test_the_direct_client_sends_what_it_is_given_and_follows_nothing() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "/next", "Set-Cookie": "a=b"}, text="x")

    timeout = httpx.Timeout(7.0, connect=2.0)
    http = streaming_client(transport=httpx.MockTransport(answer), timeout=timeout)
    assert isinstance(http, DirectClient)
    async with http:
        async with http.stream(
            "POST", "https://example.test/hook", content=b"{}", headers={"User-Agent": "mine/2"}
        ) as first:
            assert first.status_code == 302
            assert await first.aread() == b"x"
        async with http.stream(
            "GET", "https://example.test/", timeout=httpx.Timeout(1.0)
        ) as second:
            assert second.request is seen[1]

    first_sent, second_sent = seen
    assert [r.url.path for r in seen] == ["/hook", "/"]  # the 302 was not followed
    assert first_sent.headers["user-agent"] == "mine/2"  # the caller's header wins
    assert second_sent.headers["user-agent"] == "receiver/1"
    assert second_sent.headers["accept-encoding"] == "gzip, deflate"
    assert "cookie" not in second_sent.headers  # the Set-Cookie was not kept
    assert first_sent.content == b"{}"
    assert first_sent.extensions["timeout"] == timeout.as_dict()
    assert second_sent.extensions["timeout"] == httpx.Timeout(1.0).as_dict()
    assert first.is_closed
    assert second.is_closed


async def test_the_httpx_fallback_keeps_httpx_client_for_its_proxy_variables() -> None:
    http = streaming_client(backend="httpx", timeout=httpx.Timeout(1.0))
    try:
        assert isinstance(http, httpx.AsyncClient)
        assert http.trust_env is True
    finally:
        await http.aclose()
    direct = streaming_client(backend="aiohttp", timeout=httpx.Timeout(1.0))
    try:
        assert isinstance(direct, AiohttpClient)
    finally:
        await direct.aclose()
