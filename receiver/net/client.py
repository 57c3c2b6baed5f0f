"""The outbound httpx clients: never follow redirects, never keep or send cookies, and run over
the transport RECEIVER_OUTBOUND_HTTP names."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol

import httpx

from receiver.net.transport import AiohttpTransport

AIOHTTP = "aiohttp"  # receiver.net.transport.AiohttpTransport, the default
HTTPX = "httpx"  # httpx's own httpcore transport, a fallback for operators
BACKENDS = (AIOHTTP, HTTPX)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
USER_AGENT = "receiver/1"


def cookieless_jar() -> CookieJar:
    """A cookie jar whose policy refuses to store or return any cookie."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def outbound_transport(
    backend: str = AIOHTTP,
    *,
    limits: httpx.Limits = DEFAULT_LIMITS,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncBaseTransport:
    """A new transport of `backend` ("aiohttp" or "httpx") with these pool limits and TLS
    verification; the client it is given to closes it."""
    if backend == AIOHTTP:
        return AiohttpTransport(limits=limits, verify=verify)
    if backend == HTTPX:
        return httpx.AsyncHTTPTransport(limits=limits, verify=verify)
    raise ValueError(f"outbound HTTP backend must be one of {', '.join(BACKENDS)}, not {backend!r}")


def outbound_client(
    *,
    backend: str = AIOHTTP,
    transport: httpx.AsyncBaseTransport | None = None,
    limits: httpx.Limits = DEFAULT_LIMITS,
    verify: ssl.SSLContext | bool = True,
    **options: Any,
) -> httpx.AsyncClient:
    """An httpx.AsyncClient that neither follows redirects nor keeps cookies, over
    `transport` if given (tests inject httpx.MockTransport), else over a new transport of
    `backend` with `limits` and `verify`.

    httpx stores every Set-Cookie in the client's jar and sends it back on later requests to
    the same host: one shared Stedi client would carry a cookie from one account's request
    into another's, and a subscriber could set state echoed on every later delivery. Servers
    we call owe us nothing through cookies, so none are kept.
    """
    if transport is None:
        transport = outbound_transport(backend, limits=limits, verify=verify)
    return httpx.AsyncClient(
        follow_redirects=False,
        cookies=cookieless_jar(),
        transport=transport,
        trust_env=trusts_env(backend),
        **options,
    )


def trusts_env(backend: str) -> bool:
    """Whether httpx may read proxy variables for `backend`'s clients: with the aiohttp
    transport it must not, or httpx would mount its own proxy transports over ours."""
    return backend != AIOHTTP


class StreamingClient(Protocol):
    """What receiver's outbound calls use of a client: one streamed request, and closing."""

    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        extensions: Mapping[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> AbstractAsyncContextManager[httpx.Response]: ...

    async def aclose(self) -> None: ...


# What httpx.AsyncClient sent by default, less its User-Agent; a caller's headers win.
_DIRECT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate", "User-Agent": USER_AGENT}


class DirectClient:
    """Requests straight over a transport, without httpx.AsyncClient's per-request work: its
    cookie jar (which parsed every response for cookies it then refused to keep), redirect,
    auth and event-hook machinery, base-URL and default-header merging. Receiver uses none of
    them; they were 45% of a delivery POST's client time in cProfile, and callgrind counts
    1,730 k -> 1,293 k instructions per POST, 1,283 k -> 951 k per 835 GET, without them.
    The response is an httpx.Response as the client would give it; redirects are never
    followed and cookies never kept or sent, as `outbound_client` promises."""

    def __init__(self, transport: httpx.AsyncBaseTransport, *, timeout: httpx.Timeout) -> None:
        self._transport = transport
        self._timeout = timeout.as_dict()

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        extensions: Mapping[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,  # noqa: ASYNC109 - httpx's, for the transport
    ) -> AsyncIterator[httpx.Response]:
        """Send one request; the response's body is read inside the block, closed after it."""
        sent = httpx.Headers(_DIRECT_HEADERS)
        if headers:
            sent.update(headers)
        request = httpx.Request(
            method,
            url,
            headers=sent,
            content=content,
            extensions={
                "timeout": self._timeout if timeout is None else timeout.as_dict(),
                **(extensions or {}),
            },
        )
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the transport and its connections."""
        await self._transport.aclose()

    async def __aenter__(self) -> DirectClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


def streaming_client(
    *,
    backend: str = AIOHTTP,
    transport: httpx.AsyncBaseTransport | None = None,
    limits: httpx.Limits = DEFAULT_LIMITS,
    timeout: httpx.Timeout,
) -> StreamingClient:
    """The client for receiver's own outbound calls: a DirectClient over `transport` (tests
    inject one) or a new transport of `backend`; for the "httpx" fallback, an
    `outbound_client`, so that httpx still reads proxy variables from the environment."""
    if transport is None and backend == HTTPX:
        return outbound_client(backend=backend, limits=limits, timeout=timeout)
    if transport is None:
        transport = outbound_transport(backend, limits=limits)
    return DirectClient(transport, timeout=timeout)
