"""AiohttpTransport: an httpx transport over aiohttp, with httpx's error meanings kept."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import AsyncIterator, Mapping
from functools import lru_cache

import aiohttp
import httpx
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

# What aiohttp, asyncio and the sockets below them raise; each becomes an httpx.TransportError.
_FAILURES = (aiohttp.ClientError, HttpProcessingError, OSError, EOFError)
# Headers aiohttp would add on its own: the request carries exactly the headers httpx built.
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
# aiohttp decides Connection itself (`close` when keep-alive is off); chunking too.
_DROPPED_HEADERS = (b"connection", b"transfer-encoding")
# asyncio buffers this much of a write without waiting for the peer: aiohttp's read timer,
# which starts once the body is handed over, covers a body this small.
_BUFFERED_BODY_BYTES = 64 * 1024
# h11 (under httpcore) accepts a response head of up to 16 KiB; aiohttp's default is 8 KiB.
_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(5.0)
# httpx's four timeouts in seconds, None for no limit: (connect, read, write, pool).
Timeouts = tuple[float | None, float | None, float | None, float | None]
_DEFAULT_TIMEOUTS = DEFAULT_TIMEOUT.as_dict()


def transport_error(exc: BaseException, request: httpx.Request | None) -> httpx.TransportError:
    """The httpx error `exc` (raised by aiohttp, asyncio or a socket) means.

    Connect* only for failures before any byte of the request left (refused, DNS, TLS, the
    connect phase's timeout): callers read those as "not sent". A disconnect once a connection
    was handed over, even a stale kept-alive one, is a RemoteProtocolError; anything else not
    known to be earlier is a ReadError. Messages name the cause, never the URL (a presigned
    download URL is a credential)."""
    error_class = _error_class(exc)
    return error_class(f"{_describe(exc)} ({type(exc).__name__})", request=request)


def _error_class(exc: BaseException) -> type[httpx.TransportError]:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ServerFingerprintMismatch):
        return httpx.ConnectError
    if isinstance(exc, TimeoutError):  # aiohttp's SocketTimeoutError and ServerTimeoutError too
        return httpx.ReadTimeout
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol
    if isinstance(exc, ValueError):  # a header or body aiohttp refuses to send
        return httpx.LocalProtocolError
    if isinstance(
        exc,
        aiohttp.ServerDisconnectedError
        | aiohttp.ClientResponseError
        | aiohttp.ClientPayloadError
        | HttpProcessingError,
    ):
        return httpx.RemoteProtocolError
    return httpx.ReadError


def _describe(exc: BaseException) -> str:
    """A short cause without addresses or URLs: aiohttp's own messages carry the URL."""
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {getattr(cause, 'verify_message', None)}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS handshake failed: {getattr(cause, 'reason', None) or cause.strerror}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect timed out"
    if isinstance(exc, TimeoutError):
        return "read timed out"
    if isinstance(cause, socket.gaierror) and cause.strerror:
        return f"name not resolved: {cause.strerror}"
    if isinstance(cause, OSError) and isinstance(cause.errno, int) and cause.errno > 0:
        return os.strerror(cause.errno)  # asyncio's own strerror names the address
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected without a complete response"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "response body incomplete or malformed"
    if isinstance(exc, aiohttp.ClientResponseError | HttpProcessingError):
        return "malformed response head"
    return "connection failed"


def head_deadline(
    connect: float | None, read: float | None, write: float | None, pool: float | None
) -> float | None:
    """The most seconds from asking for a connection to the response head: pool + connect +
    write + read (None if any is None). aiohttp has no write timeout and starts `sock_read`
    only once the body is written, so a peer that stops reading would stall an upload for
    ever; connect and read are bounded apart, so reaching this deadline means the write
    took longer than `write` (or the head came in a trickle): an httpx.WriteTimeout. Only
    bodies over 64 KiB or streamed get it (see _deadline_for)."""
    parts = (connect, read, write, pool)
    return None if any(part is None for part in parts) else sum(p for p in parts if p)


@lru_cache(maxsize=64)
def client_timeout(
    connect: float | None, read: float | None, write: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """httpx's four timeouts as aiohttp's: `sock_connect` is httpx's connect (TCP and TLS, per
    address tried), `connect` bounds the whole connect phase (waiting for a pool slot, DNS,
    connecting) at pool + connect, and `sock_read` is httpx's read (the most seconds between
    two reads, from the end of the upload). aiohttp has no write timeout (see head_deadline)
    and `total` would bound reading the body too, which httpx does not."""
    del write
    whole = None if connect is None or pool is None else connect + pool
    return aiohttp.ClientTimeout(total=None, connect=whole, sock_connect=connect, sock_read=read)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests over one aiohttp ClientSession, created on the first request
    (inside the running loop). It never keeps or sends cookies, never follows redirects, never
    decompresses (httpx decodes Content-Encoding), sends the Host header and `sni_hostname`
    extension it is given, verifies certificates against that name, and honours
    `httpx.Limits` (no keep-alive at all when `max_keepalive_connections` is 0; aiohttp keeps
    every released connection otherwise, up to `max_connections`)."""

    def __init__(
        self,
        *,
        limits: httpx.Limits | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._limit = limits.max_connections or 0  # 0: no limit
        self._keepalive = limits.max_keepalive_connections != 0
        self._keepalive_expiry = limits.keepalive_expiry
        self._ssl = verify if isinstance(verify, ssl.SSLContext) else _ssl_context(verify)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _open_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the transport is closed")
        if self._keepalive:
            connector = aiohttp.TCPConnector(
                limit=self._limit, ssl=self._ssl, keepalive_timeout=self._keepalive_expiry
            )
        else:
            connector = aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl, force_close=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_SKIP_AUTO_HEADERS,
            auto_decompress=False,
            trust_env=False,  # no proxy or netrc from the environment
            timeout=aiohttp.ClientTimeout(total=None),
            max_line_size=_MAX_HEADER_BYTES,
            max_field_size=_MAX_HEADER_BYTES,
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`; every network failure is an httpx.TransportError."""
        timeout: Mapping[str, float | None] = request.extensions.get("timeout", _DEFAULT_TIMEOUTS)
        encoding = request.headers.encoding
        headers = [
            (name.decode(encoding), value.decode(encoding))
            for name, value in request.headers.raw
            if name.lower() not in _DROPPED_HEADERS
        ]
        response = await self.send(
            request.method,
            str(request.url),
            headers=headers,
            body=_body_of(request),
            timeouts=(
                timeout.get("connect"),
                timeout.get("read"),
                timeout.get("write"),
                timeout.get("pool"),
            ),
            sni_hostname=request.extensions.get("sni_hostname"),
            request=request,
        )
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_ResponseStream(response, request),
            extensions={
                "http_version": _http_version(response.version),
                "reason_phrase": (response.reason or "").encode("ascii", "replace"),
            },
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: list[tuple[str, str]],
        body: bytes | httpx.AsyncByteStream | None,
        timeouts: Timeouts,
        sni_hostname: str | None = None,
        request: httpx.Request | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one request (`url` already encoded, `headers` exactly as they go out, with
        httpx's (connect, read, write, pool) timeouts) and return aiohttp's response, its body
        unread; every network failure is an httpx.TransportError (naming `request`, if given).
        `handle_async_request` and receiver's own `AiohttpClient` both send through this."""
        try:
            target = URL(url, encoded=True)
        except ValueError as exc:
            raise transport_error(exc, request) from exc
        if target.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"request URL has an unsupported scheme {target.scheme!r}", request=request
            )
        session = self._session or self._open_session()
        try:
            async with asyncio.timeout(_deadline_for(body, timeouts)) as deadline:
                return await session.request(
                    method,
                    target,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                    timeout=client_timeout(*timeouts),
                    server_hostname=sni_hostname,
                )
        except TimeoutError as exc:
            if deadline.expired():
                raise httpx.WriteTimeout("write timed out", request=request) from exc
            raise transport_error(exc, request) from exc
        except (*_FAILURES, ValueError) as exc:
            raise transport_error(exc, request) from exc

    async def aclose(self) -> None:
        """Close the session and its connections; no request may follow."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _deadline_for(body: bytes | httpx.AsyncByteStream | None, timeouts: Timeouts) -> float | None:
    """head_deadline for a body that may wait on the peer to be written, else None."""
    if body is None or (isinstance(body, bytes) and len(body) <= _BUFFERED_BODY_BYTES):
        return None
    return head_deadline(*timeouts)


def _http_version(version: aiohttp.HttpVersion | None) -> bytes:
    return b"HTTP/1.1" if version is None else f"HTTP/{version.major}.{version.minor}".encode()


@lru_cache(maxsize=2)
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """The context httpx itself would build (certifi's CAs, SSL_CERT_FILE/DIR honoured), made
    once per process: loading the CA bundle takes tens of ms, and a Sender opens a transport
    per subscription."""
    return httpx.create_ssl_context(verify=verify)


def _body_of(request: httpx.Request) -> bytes | httpx.AsyncByteStream | None:
    """The request's bytes, or its stream when httpx was handed an async iterator."""
    try:
        content = request.content
    except httpx.RequestNotRead:
        stream = request.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise TypeError("AiohttpTransport needs an async request body") from None
        return stream
    return content or None


async def body_chunks(
    response: aiohttp.ClientResponse, request: httpx.Request | None = None
) -> AsyncIterator[bytes]:
    """The body of `response` as it arrives, undecoded; a failure is an httpx.TransportError."""
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except _FAILURES as exc:
        raise transport_error(exc, request) from exc


class _ResponseStream(httpx.AsyncByteStream):
    """An aiohttp response body as httpx reads it; closing it early closes the connection."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in body_chunks(self._response, self._request):
            yield chunk

    async def aclose(self) -> None:
        # A fully read body has already gone back to the pool; one read in part is closed
        # with its connection (aiohttp never reuses a connection with unread bytes).
        self._response.release()
