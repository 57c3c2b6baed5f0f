"""Client-credentials token sessions: one Authlib AsyncOAuth2Client per connection and API,
whose token is fetched once, renewed by Authlib before it expires and once more after a 401,
and whose token answers are checked before Authlib keeps them."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from receiver.net.client import cookieless_jar
from receiver.policy import FailureKind
from receiver.upstream.optum.connection import Endpoint, OptumConnection
from receiver.upstream.optum.errors import (
    TOKEN_ENDPOINT,
    OptumError,
    parse_json,
    status_error,
    trace_id_of,
    transport_error,
)

# What a Bearer token may hold (RFC 6750 b64token, loosely): it goes into a header.
_ACCESS_TOKEN = re.compile(r"[\x21-\x7e]{1,8192}")


class TokenSession:
    """One connection's token for one API, on its own AsyncOAuth2Client (an httpx client
    that never follows redirects or keeps cookies)."""

    def __init__(
        self,
        connection: OptumConnection,
        endpoint: Endpoint,
        *,
        transport: httpx.AsyncBaseTransport,
        timeout: httpx.Timeout,
        leeway: int,
        clock: Callable[[], datetime],
        trust_env: bool = True,
    ) -> None:
        self.fingerprint = session_fingerprint(connection, endpoint)
        self._leeway = leeway
        self._token_url = endpoint.token_url
        self._clock = clock
        self._first = asyncio.Lock()
        self._http: Any = AsyncOAuth2Client(
            client_id=connection.client_id,
            client_secret=connection.client_secret,
            token_endpoint_auth_method=connection.token_auth_method.value,
            scope=endpoint.scope,  # None: no scope parameter at all
            token_endpoint=endpoint.token_url,
            grant_type="client_credentials",
            leeway=leeway,
            timeout=timeout,
            follow_redirects=False,
            cookies=cookieless_jar(),
            transport=transport,
            trust_env=trust_env,  # False over aiohttp: no httpx proxy transport over it
        )
        self._http.register_compliance_hook("access_token_response", self._check_token_answer)

    async def request(
        self,
        method: str,
        url: str,
        *,
        where: str,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        json_body: object = None,
    ) -> httpx.Response:
        """Send one request with the token; after a 401, once more with a new token (the
        caller decides what a second 401 means). Failures are OptumErrors named `where`."""
        async with _mapped(where, self._token_url):
            await self._ensure_token()
            response = await self._send(method, url, headers, params, json_body)
            if response.status_code != 401:
                return response
            await self._renew(used=bearer_of(response.request))
            return await self._send(method, url, headers, params, json_body)

    async def aclose(self) -> None:
        """Close the session's connections."""
        await self._http.aclose()

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
        json_body: object,
    ) -> httpx.Response:
        # Authlib's request() first renews the token if it is within `leeway` of expiring.
        response: httpx.Response = await self._http.request(
            method, url, headers=headers, params=params, json=json_body
        )
        return response

    async def _ensure_token(self) -> None:
        if self._http.token is not None:
            return
        async with self._first:
            if self._http.token is None:
                await self._http.fetch_token()

    async def _renew(self, *, used: str | None) -> None:
        """Replace the token Optum refused (`used`), unless a concurrent call already did.

        Authlib renews only a token that looks expired (one without `expires_at` never
        does), so the refused token is marked expired and `ensure_active_token` fetches a
        new one under Authlib's lock: concurrent 401s share one new token."""
        token = self._http.token
        if token is not None and token.get("access_token") == used:
            token["expires_at"] = 1
        await self._http.ensure_active_token(self._http.token)

    def _check_token_answer(self, response: httpx.Response) -> httpx.Response:
        """Authlib's hook before it parses a token answer: anything but a usable Bearer
        token is an OptumError (Authlib would keep a 4xx body without `error` as the
        token, and raise with the server's own description otherwise)."""
        if response.status_code != 200:
            raise status_error(response, self._clock(), where=TOKEN_ENDPOINT)
        body = parse_json(response.content)
        problem = token_problem(body)
        if problem is not None:
            raise invalid_answer(response, TOKEN_ENDPOINT, problem)
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        self._http.leeway = effective_leeway(self._leeway, expires_in)
        return response


def effective_leeway(leeway: int, expires_in: object) -> int:
    """How long before `expires_in` a token is renewed: `leeway`, but at most half the
    token's lifetime, else a short-lived token would look expired on arrival and be fetched
    again for every request."""
    if not isinstance(expires_in, int | float | str) or not _is_positive_seconds(expires_in):
        return leeway
    return min(leeway, int(expires_in) // 2)


def session_fingerprint(connection: OptumConnection, endpoint: Endpoint) -> str:
    """What a cached token depends on; a change (a rotated secret, another token URL or
    scope) means a new session. A hash, so no secret is kept in the cache key."""
    parts = (
        connection.client_id,
        connection.client_secret,
        connection.token_auth_method.value,
        endpoint.token_url,
        endpoint.scope or "",
    )
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def token_problem(body: object) -> str | None:
    """What makes a 200 token answer unusable, or None."""
    if not isinstance(body, dict):
        return "answer is not a JSON object"
    token = body.get("access_token")
    if not isinstance(token, str) or not _ACCESS_TOKEN.fullmatch(token):
        return "answer has no usable access_token"
    token_type = body.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        return "token_type is not Bearer"
    expires_in = body.get("expires_in")
    if expires_in is not None and not _is_positive_seconds(expires_in):
        return "expires_in is not a positive number of seconds"
    return None


def invalid_answer(
    response: httpx.Response,
    where: str,
    problem: str,
    *,
    kind: FailureKind = FailureKind.TRANSIENT,
) -> OptumError:
    """An OptumError for an answer of the right status whose body cannot be used."""
    trace_id = trace_id_of(response.headers, parse_json(response.content))
    return OptumError(
        kind, status=response.status_code, reason=f"{where}: {problem}", trace_id=trace_id
    )


def bearer_of(request: httpx.Request) -> str | None:
    """The Bearer token a request was sent with."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else None


@asynccontextmanager
async def _mapped(where: str, token_url: str) -> AsyncIterator[None]:
    """Map transport failures and Authlib's errors to OptumError, without their messages
    (Authlib's can quote the token endpoint's body) and without chaining them."""
    try:
        yield
    except (httpx.TransportError, httpx.DecodingError) as exc:
        # DecodingError (a body its Content-Encoding does not decode) is no TransportError
        raise transport_error(exc, where=_where_of(exc, where, token_url)) from None
    except AuthlibBaseError as exc:
        code = exc.error if isinstance(exc.error, str) else "oauth_error"
        reason = f"{TOKEN_ENDPOINT}: {code}"
        raise OptumError(FailureKind.PERMANENT, status=None, reason=reason) from None


def _where_of(exc: httpx.TransportError | httpx.DecodingError, where: str, token_url: str) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # an error raised without its request
        return where
    return TOKEN_ENDPOINT if url.copy_with(query=None) == httpx.URL(token_url) else where


def _is_positive_seconds(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value) and value > 0
    # A string of at most 12 digits (over 30,000 years): Authlib adds it to time.time().
    return (
        isinstance(value, str)
        and 0 < len(value) <= 12
        and value.isascii()
        and value.isdigit()
        and int(value) > 0
    )
