"""Outbound webhook HTTP: POST to a subscriber at the address that passed the SSRF check."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from receiver.net.client import AIOHTTP, Answer, StreamingClient, streaming_client
from receiver.net.ssrf import (
    DestinationError,
    PinnedURL,
    Resolver,
    check_destination_url,
    pin_public,
)
from receiver.policy import parse_retry_after

EXCERPT_BYTES = 1024
USER_AGENT = "receiver-webhooks/1"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one POST came back with: a status (None if no HTTP answer) or an error."""

    status_code: int | None
    duration_ms: int
    excerpt: str | None = None
    error: str | None = None
    retry_after: float | None = None


class Sender:
    """POSTs signed bodies; one connection pool per subscription, never shared between hosts.

    The host is resolved and checked on every attempt and the connection goes to exactly the
    checked address (Host header and TLS SNI carry the name), so a DNS answer that changes
    after the check cannot redirect it. Redirects are never followed.
    """

    def __init__(
        self,
        *,
        allow_insecure: bool,
        resolver: Resolver,
        timeout_seconds: float,
        connections_per_pool: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
        outbound_http: str = AIOHTTP,
    ) -> None:
        self._outbound_http = outbound_http
        self._allow_insecure = allow_insecure
        self._resolver = resolver
        self._timeout = httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds))
        self._transport = transport
        # As many connections as the subscription may have attempts in flight, all kept
        # alive: fewer kept would close and reopen one per attempt under a backlog.
        self._limits = httpx.Limits(
            max_connections=connections_per_pool, max_keepalive_connections=connections_per_pool
        )
        self._clients: dict[str, StreamingClient] = {}

    def _client(self, pool_key: str) -> StreamingClient:
        client = self._clients.get(pool_key)
        if client is None:
            client = streaming_client(
                backend=self._outbound_http,
                timeout=self._timeout,
                transport=self._transport,
                limits=self._limits,
            )
            self._clients[pool_key] = client
        return client

    async def post(
        self, *, pool_key: str, url: str, body: bytes, headers: dict[str, str], now: datetime
    ) -> SendResult:
        """POST `body` to `url`; never raises for network or destination trouble."""
        started = time.perf_counter()
        try:
            pinned = await self._pin(url)
            request_headers = {
                **headers,
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "host": pinned.host_header,
            }
            async with self._client(pool_key).stream(
                "POST",
                pinned.url,
                content=body,
                headers=request_headers,
                extensions=pinned.extensions,
            ) as response:
                head = await _read_head(response)
                return SendResult(
                    status_code=response.status_code,
                    duration_ms=_ms_since(started),
                    excerpt=head.decode("utf-8", errors="replace"),
                    retry_after=parse_retry_after(response.headers.get("retry-after"), now),
                )
        except DestinationError as exc:
            return SendResult(None, _ms_since(started), error=f"destination refused: {exc}")
        except httpx.TimeoutException as exc:
            return SendResult(None, _ms_since(started), error=f"timeout: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            # The message of a transport error names the cause, not the URL.
            return SendResult(None, _ms_since(started), error=f"{type(exc).__name__}: {exc}")

    async def _pin(self, url: str) -> PinnedURL:
        """The URL rewritten to the checked address, with the Host header and the SNI name."""
        _scheme, host, port = check_destination_url(url, allow_insecure=self._allow_insecure)
        return await pin_public(
            url, host=host, port=port, allow_insecure=self._allow_insecure, resolver=self._resolver
        )

    async def aclose(self) -> None:
        """Close every pool."""
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()


async def _read_head(response: Answer) -> bytes:
    """Up to EXCERPT_BYTES of the body; the rest is not downloaded."""
    head = b""
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= EXCERPT_BYTES:
            break
    return head[:EXCERPT_BYTES]


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
