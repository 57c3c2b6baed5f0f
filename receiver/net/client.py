"""The outbound httpx clients: never follow redirects, never keep or send cookies, and run over
the transport RECEIVER_OUTBOUND_HTTP names."""

from __future__ import annotations

import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from receiver.net.transport import AiohttpTransport

AIOHTTP = "aiohttp"  # receiver.net.transport.AiohttpTransport, the default
HTTPX = "httpx"  # httpx's own httpcore transport, a fallback for operators
BACKENDS = (AIOHTTP, HTTPX)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


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
