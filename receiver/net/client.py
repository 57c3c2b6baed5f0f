"""The outbound httpx clients: never follow redirects, never keep or send cookies."""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx


def cookieless_jar() -> CookieJar:
    """A cookie jar whose policy refuses to store or return any cookie."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def outbound_client(**options: Any) -> httpx.AsyncClient:
    """An httpx.AsyncClient that neither follows redirects nor keeps cookies.

    httpx stores every Set-Cookie in the client's jar and sends it back on later requests to
    the same host: one shared Stedi client would carry a cookie from one account's request
    into another's, and a subscriber could set state echoed on every later delivery. Servers
    we call owe us nothing through cookies, so none are kept.
    """
    return httpx.AsyncClient(follow_redirects=False, cookies=cookieless_jar(), **options)
