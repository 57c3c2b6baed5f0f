"""The outbound clients: never follow redirects, never keep or send cookies, and run over the
transport RECEIVER_OUTBOUND_HTTP names."""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol, Self

import httpx

from receiver.net.reply import Reply
from receiver.net.transport import AiohttpTransport, Timeouts

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


class Answer(Protocol):
    """What receiver's outbound calls read of a response: an httpx.Response, or a Reply."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...  # case-insensitive

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...


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
    ) -> AbstractAsyncContextManager[Answer]: ...

    async def aclose(self) -> None: ...


# What httpx.AsyncClient sent by default, less its User-Agent; a caller's headers win.
_DIRECT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate", "User-Agent": USER_AGENT}


class _OwnsTransport:
    """A client that closes its transport with itself, as `async with` or by `aclose`."""

    _transport: httpx.AsyncBaseTransport

    async def aclose(self) -> None:
        """Close the transport and its connections."""
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


class DirectClient(_OwnsTransport):
    """Requests straight over an injected httpx transport (tests inject httpx.MockTransport;
    receiver itself uses AiohttpClient), without httpx.AsyncClient's per-request work: its
    cookie jar (which parsed every response for cookies it then refused to keep), redirect,
    auth and event-hook machinery, base-URL and default-header merging. Receiver uses none of
    them; callgrind counted 1,730 k -> 1,293 k instructions per delivery POST and 1,283 k ->
    951 k per 835 GET without them. The response is an httpx.Response as the client would
    give it; redirects are never followed and cookies never kept or sent, as
    `outbound_client` promises."""

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


class AiohttpClient(_OwnsTransport):
    """Requests straight over an AiohttpTransport, without building httpx's Request and
    Response: URL parsing, header normalisation and the decoder chain were most of a request's
    client instructions over DirectClient (callgrind: 988 k per delivery POST here, 377 k for
    aiohttp alone). It sends what DirectClient sends (its default headers, the caller's
    winning) and answers a `Reply`; errors are httpx's, mapped by the transport, which it
    shares with DirectClient: redirects are never followed, cookies never kept or sent."""

    _transport: AiohttpTransport

    def __init__(self, transport: AiohttpTransport, *, timeout: httpx.Timeout) -> None:
        self._transport = transport
        self._timeouts = _timeouts(timeout)

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
    ) -> AsyncIterator[Reply]:
        """Send one request; the reply's body is read inside the block, released after it."""
        if content is not None and not isinstance(content, bytes):
            raise TypeError("AiohttpClient sends a body of bytes only")
        sent = {name.lower(): (name, value) for name, value in _DIRECT_HEADERS.items()}
        for name, value in (headers or {}).items():
            if name.lower() not in _DROPPED:
                sent[name.lower()] = (name, value)
        response = await self._transport.send(
            method,
            url if _ENCODED_URL.fullmatch(url) else str(httpx.URL(url)),
            headers=list(sent.values()),
            body=content or None,
            timeouts=self._timeouts if timeout is None else _timeouts(timeout),
            sni_hostname=(extensions or {}).get("sni_hostname"),
        )
        try:
            yield Reply(response)
        finally:
            response.release()


_DROPPED = ("connection", "transfer-encoding")  # aiohttp decides both, as for the transport
# A URL of these characters only (RFC 3986's, and whole %XX escapes) goes out as it is, as httpx
# would send it; any other (a space, a non-ASCII letter) is percent-encoded by httpx.URL first.
_ENCODED_URL = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")


def _timeouts(timeout: httpx.Timeout) -> Timeouts:
    return (timeout.connect, timeout.read, timeout.write, timeout.pool)


def streaming_client(
    *,
    backend: str = AIOHTTP,
    transport: httpx.AsyncBaseTransport | None = None,
    limits: httpx.Limits = DEFAULT_LIMITS,
    timeout: httpx.Timeout,
) -> StreamingClient:
    """The client for receiver's own outbound calls: an AiohttpClient over a new transport
    (the default backend), a DirectClient over `transport` (tests inject one), or, for the
    "httpx" fallback, an `outbound_client`, so that httpx still reads proxy variables from
    the environment."""
    if transport is None and backend == HTTPX:
        return outbound_client(backend=backend, limits=limits, timeout=timeout)
    if transport is None and backend == AIOHTTP:
        return AiohttpClient(AiohttpTransport(limits=limits), timeout=timeout)
    if transport is None:
        transport = outbound_transport(backend, limits=limits)
    return DirectClient(transport, timeout=timeout)
