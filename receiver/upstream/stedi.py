"""Fetch 277CA and 835 reports and 837 transactions' X12 from Stedi, mapping failures to
UpstreamError."""

from __future__ import annotations

import asyncio
import enum
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson

from receiver.errors import ReceiverError
from receiver.metrics import Metrics
from receiver.net.client import AIOHTTP, Answer, StreamingClient, streaming_client
from receiver.net.ssrf import (
    DestinationError,
    Resolver,
    UnresolvedError,
    check_destination_url,
    pin_public,
    system_resolver,
)
from receiver.policy import FailureKind, classify_status, parse_retry_after
from receiver.upstream.failure import describe_upstream_failure

_TRANSACTION_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_MAX_POLL_PAGE = 500
_DOWNLOAD_REDIRECTS = frozenset({302, 303, 307})
DEFAULT_DOWNLOAD_HOSTS = "*.amazonaws.com"
# The most of one answer read into memory (RECEIVER_STEDI_MAX_RESPONSE_BYTES).
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_EXPIRED_DOWNLOAD = 403


def iso_z(value: datetime) -> str:
    """An aware datetime as ISO-8601 UTC with milliseconds and a `Z` (Stedi's format)."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class ReportKind(enum.StrEnum):
    """Which JSON report to fetch for a transaction (the last path segment)."""

    ACK_277 = "277"
    ERA_835 = "835"


class TransactionArtifact(enum.StrEnum):
    """Which file of a core transaction to fetch: what came in to Stedi, or what went out
    (for an 837, the X12 is the input of an INBOUND transaction, the output of an OUTBOUND)."""

    INPUT = "input"
    OUTPUT = "output"


class UpstreamError(ReceiverError):
    """A report fetch failed; `kind` says whether (and how) a retry may help."""

    code = "upstream_error"

    def __init__(
        self,
        kind: FailureKind,
        *,
        status: int | None,
        retry_after: float | None = None,
        reason: str,
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.reason = reason

    def __repr__(self) -> str:
        return (
            f"UpstreamError(kind={self.kind.value!r}, status={self.status!r}, "
            f"retry_after={self.retry_after!r}, reason={self.reason!r})"
        )


def looks_like_interchange(raw: bytes) -> bool:
    """Whether `raw` starts (after a UTF-8 byte-order mark and blanks) with an ISA segment."""
    return raw.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"ISA")


def report_url(base_url: str, transaction_id: str, kind: ReportKind) -> str:
    """The report URL, built only from a configured base URL and a validated transaction id."""
    if not _TRANSACTION_ID.fullmatch(transaction_id):
        raise ValueError("transaction id must be 1-64 letters, digits or hyphens")
    report = ReportKind(kind)
    return f"{base_url.rstrip('/')}/change/medicalnetwork/reports/v2/{transaction_id}/{report}"


def transaction_output_url(
    base_url: str,
    transaction_id: str,
    artifact: TransactionArtifact = TransactionArtifact.OUTPUT,
) -> str:
    """The core API's transaction output (or input) URL, built only from a configured base URL
    and a validated transaction id."""
    if not _TRANSACTION_ID.fullmatch(transaction_id):
        raise ValueError("transaction id must be 1-64 letters, digits or hyphens")
    return f"{base_url.rstrip('/')}/transactions/{transaction_id}/{TransactionArtifact(artifact)}"


class DownloadLocationError(ValueError):
    """A redirect Location that receiver refuses to follow (the reason needs a person)."""


def parse_host_patterns(value: str) -> tuple[str, ...]:
    """Comma-separated host patterns (`*.domain` or an exact host name), lower-cased."""
    patterns = tuple(item.strip().lower() for item in value.split(",") if item.strip())
    for pattern in patterns:
        bare = pattern.removeprefix("*.")
        if not bare or "*" in bare or "/" in bare or ":" in bare:
            raise ValueError(f"not a host name or *.domain pattern: {pattern!r}")
    return patterns


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    """Whether `host` is allowed: `*.x` matches any subdomain of x (not x itself), a bare
    name matches only itself; case and one trailing dot are ignored."""
    name = host.lower().removesuffix(".")
    if not name or not name.isascii():
        return False
    for pattern in patterns:
        if pattern.startswith("*."):
            suffix = pattern[1:]
            if len(name) > len(suffix) and name.endswith(suffix):
                return True
        elif name == pattern:
            return True
    return False


def check_download_location(location: str, patterns: Iterable[str]) -> str:
    """The presigned download URL from Stedi's redirect `location`, if receiver may follow it.

    It must be an absolute https URL without userinfo whose host matches `patterns`; plain
    http is allowed only for a host named exactly (not by a `*.` pattern). Else
    DownloadLocationError, whose message names the host but never the URL (it is signed).
    """
    allowed = tuple(patterns)
    try:
        parts = urlsplit(location.strip())
        host = parts.hostname or ""
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise DownloadLocationError("download location is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise DownloadLocationError("download location is not an absolute http(s) URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise DownloadLocationError("download location must not carry userinfo")
    if not host_matches(host, allowed):
        raise DownloadLocationError(
            f"download host {host!r} is not allowed by RECEIVER_STEDI_DOWNLOAD_HOSTS"
        )
    if scheme == "http" and not host_matches(host, [p for p in allowed if "*" not in p]):
        raise DownloadLocationError(
            f"download location for {host!r} is plain http; only a host listed exactly "
            "in RECEIVER_STEDI_DOWNLOAD_HOSTS may use http"
        )
    return location.strip()


class StediClient:
    """One shared HTTP client for Stedi report fetches, with a concurrency bound per account."""

    def __init__(
        self,
        *,
        healthcare_url: str,
        core_url: str = "https://core.us.stedi.com/2023-08-01",
        transport: httpx.AsyncBaseTransport | None = None,
        max_concurrency_per_account: int = 5,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        metrics: Metrics | None = None,
        download_hosts: str = DEFAULT_DOWNLOAD_HOSTS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        resolver: Resolver = system_resolver,
        allow_private_downloads: bool = False,
        outbound_http: str = AIOHTTP,
    ) -> None:
        if max_concurrency_per_account < 1:
            raise ValueError("max_concurrency_per_account must be at least 1")
        self._max_response_bytes = max_response_bytes
        self._healthcare_url = healthcare_url
        self._core_url = core_url.rstrip("/")
        self._max_concurrency = max_concurrency_per_account
        self._download_hosts = parse_host_patterns(download_hosts)
        self._resolver = resolver
        self._allow_private_downloads = allow_private_downloads
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._metrics = metrics
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = streaming_client(backend=outbound_http, timeout=timeout, transport=transport)
        # Downloads connect to a checked address with the host name in TLS; a kept-alive
        # connection (pooled by address) could carry one host's request over a connection
        # verified for another host at the same address, so none is kept.
        self._download_http = streaming_client(
            backend=outbound_http,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def fetch_report(
        self,
        *,
        account: str,
        api_key: str,
        transaction_id: str,
        kind: ReportKind,
        now: datetime,
    ) -> bytes:
        """The report's exact JSON bytes, or UpstreamError; `now` anchors Retry-After dates."""
        url = report_url(self._healthcare_url, transaction_id, kind)
        headers = {"Authorization": api_key, "Accept": "application/json"}
        async with self._semaphore(account):
            response = await self._send(url, headers, endpoint=f"report_{kind.value}")
        if response.status_code != 200:
            raise _status_error(response, now)
        if not _is_json_object(response.content):
            raise UpstreamError(FailureKind.TRANSIENT, status=200, reason="invalid report body")
        return response.content

    async def fetch_transaction_output(
        self,
        *,
        account: str,
        api_key: str,
        transaction_id: str,
        now: datetime,
        artifact: TransactionArtifact = TransactionArtifact.OUTPUT,
    ) -> bytes:
        """A transaction's X12 bytes from its output (an OUTBOUND 837) or the `artifact`
        named (the input of an INBOUND one), or UpstreamError; `now` anchors Retry-After.

        Stedi answers with a redirect to a presigned download URL: it is followed once, only
        if `check_download_location` allows it and its host resolves only to public addresses
        (the SSRF guard subscriptions use; `allow_private_downloads` is for tests), to the
        address that was checked, without the API key and without further redirects. A 200
        with a body straight from Stedi is accepted too.
        """
        url = transaction_output_url(self._core_url, transaction_id, artifact)
        headers = {"Authorization": api_key}
        endpoint = f"transaction_{artifact}"
        async with self._semaphore(account):
            response = await self._send(url, headers, endpoint=endpoint)
            if response.status_code in _DOWNLOAD_REDIRECTS:
                try:
                    location = check_download_location(
                        response.headers.get("Location", ""), self._download_hosts
                    )
                except DownloadLocationError as exc:
                    raise UpstreamError(
                        FailureKind.PERMANENT, status=response.status_code, reason=str(exc)
                    ) from None
                response = await self._download(location, endpoint=f"{endpoint}_download")
                if response.status_code == _EXPIRED_DOWNLOAD:
                    # S3 answers 403 to a presigned URL that has expired: the next attempt
                    # asks Stedi again and gets a fresh one.
                    raise _status_error(
                        response, now, prefix="download: ", kind=FailureKind.TRANSIENT
                    )
                if response.status_code != 200:
                    raise _status_error(response, now, prefix="download: ")
        if response.status_code != 200:
            raise _status_error(response, now)
        if not looks_like_interchange(response.content):
            # Another artifact (Guide JSON, the other side of the transaction): a retry gets
            # it again.
            raise UpstreamError(
                FailureKind.PERMANENT, status=200, reason=f"transaction {artifact} is not X12"
            )
        return response.content

    async def poll_transactions(
        self,
        *,
        account: str,
        api_key: str,
        start_date_time: datetime | None,
        page_token: str | None,
        page_size: int = 100,
        now: datetime,
    ) -> dict[str, object]:
        """One page of Stedi's poll-transactions list, from `page_token` if given, else from
        `start_date_time`; the JSON object, or UpstreamError (mapped as for reports)."""
        if not 1 <= page_size <= _MAX_POLL_PAGE:
            raise ValueError(f"page_size must be between 1 and {_MAX_POLL_PAGE}")
        params: dict[str, str] = {"pageSize": str(page_size)}
        if page_token is not None:
            params["pageToken"] = page_token
        elif start_date_time is not None:
            params["startDateTime"] = iso_z(start_date_time)
        else:
            raise ValueError("either start_date_time or page_token is required")
        url = f"{self._core_url}/polling/transactions?{urlencode(params)}"
        headers = {"Authorization": api_key, "Accept": "application/json"}
        async with self._semaphore(account):
            response = await self._send(url, headers, endpoint="poll_transactions")
        if response.status_code != 200:
            raise _status_error(response, now)
        try:
            parsed = json.loads(response.content)
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict):
            raise UpstreamError(FailureKind.TRANSIENT, status=200, reason="invalid poll body")
        return parsed

    async def aclose(self) -> None:
        """Close the shared HTTP clients and their connections."""
        await self._http.aclose()
        await self._download_http.aclose()

    def _semaphore(self, account: str) -> asyncio.Semaphore:
        semaphore = self._semaphores.get(account)
        if semaphore is None:
            semaphore = self._semaphores[account] = asyncio.Semaphore(self._max_concurrency)
        return semaphore

    async def _download(self, location: str, *, endpoint: str) -> Fetched:
        """GET an allowed download `location` at the address its host was checked to resolve
        to; a refused address is a permanent UpstreamError, a DNS failure a transient one."""
        try:
            # http was already limited to hosts named exactly (check_download_location).
            _scheme, host, port = check_destination_url(location, allow_insecure=True)
            pinned = await pin_public(
                location,
                host=host,
                port=port,
                allow_insecure=self._allow_private_downloads,
                resolver=self._resolver,
            )
        except UnresolvedError as exc:
            raise UpstreamError(
                FailureKind.TRANSIENT, status=None, reason=f"download: {exc}"
            ) from None
        except DestinationError as exc:
            raise UpstreamError(
                FailureKind.PERMANENT, status=None, reason=f"download refused: {exc}"
            ) from None
        return await self._send(
            pinned.url,
            {"Host": pinned.host_header},
            endpoint=endpoint,
            extensions=pinned.extensions,
            client=self._download_http,
        )

    async def _send(
        self,
        url: str,
        headers: dict[str, str],
        *,
        endpoint: str,
        extensions: dict[str, str] | None = None,
        client: StreamingClient | None = None,
    ) -> Fetched:
        """GET `url`; its status, headers and body, read up to `max_response_bytes` (a larger
        body is a permanent UpstreamError: retrying would fetch it again)."""
        return await exchange(
            client or self._http,
            "GET",
            url,
            endpoint=endpoint,
            metrics=self._metrics,
            max_response_bytes=self._max_response_bytes,
            too_large_hint=(" (RECEIVER_STEDI_MAX_RESPONSE_BYTES: raise it, then jobs retry)"),
            headers=headers,
            extensions=extensions or {},
        )


async def exchange(
    http: StreamingClient,
    method: str,
    url: str,
    *,
    endpoint: str,
    metrics: Metrics | None,
    max_response_bytes: int,
    too_large_hint: str = "",
    **options: Any,
) -> Fetched:
    """One request to Stedi (or a download host): its status, headers and body, read up to
    `max_response_bytes` (a larger body is a permanent UpstreamError whose reason ends with
    `too_large_hint`: retrying would fetch it again). Timeouts and connection errors are
    transient UpstreamErrors; each call is counted and timed under `endpoint`."""
    started = time.perf_counter()
    status = "error"
    try:
        async with http.stream(method, url, **options) as response:
            status = str(response.status_code)
            body = await _read_capped(response, max_response_bytes, too_large_hint)
            return Fetched(response.status_code, response.headers, body)
    except httpx.TimeoutException:
        status = "timeout"
        raise UpstreamError(FailureKind.TRANSIENT, status=None, reason="timeout") from None
    except httpx.TransportError as exc:
        reason = f"connection error: {type(exc).__name__}"
        raise UpstreamError(FailureKind.TRANSIENT, status=None, reason=reason) from None
    except httpx.DecodingError:
        # A body its Content-Encoding does not decode (not a TransportError): a retry may
        # get a whole one; it must not escape as an unhandled error (an API caller's 500).
        reason = "response body does not decode as its Content-Encoding says"
        raise UpstreamError(FailureKind.TRANSIENT, status=None, reason=reason) from None
    finally:
        if metrics is not None:
            metrics.upstream_requests.labels(endpoint, status).inc()
            metrics.upstream_seconds.labels(endpoint).observe(time.perf_counter() - started)


@dataclass(frozen=True)
class Fetched:
    """One answer from Stedi (or a download host), its body read in full."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes


async def _read_capped(response: Answer, limit: int, hint: str) -> bytes:
    """The body of `response`, or a permanent UpstreamError once it passes `limit` bytes
    (judged by Content-Length when there is one, else while reading)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(response.status_code, limit, hint)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(response.status_code, limit, hint)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(status: int, limit: int, hint: str) -> UpstreamError:
    reason = f"response larger than {limit} bytes{hint}"
    return UpstreamError(FailureKind.PERMANENT, status=status, reason=reason)


def _status_error(
    response: Fetched, now: datetime, *, prefix: str = "", kind: FailureKind | None = None
) -> UpstreamError:
    # A 3xx is permanent because redirects are never followed; an unexpected 2xx is too.
    kind = kind or classify_status(response.status_code) or FailureKind.PERMANENT
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
    reason = prefix + describe_upstream_failure(
        response.status_code, response.headers, response.content
    )
    return UpstreamError(kind, status=response.status_code, retry_after=retry_after, reason=reason)


def _is_json_object(content: bytes) -> bool:
    """Whether json.loads reads `content` as an object. orjson answers first (a 6 KB 835 in
    7.5 us against 16.5): what it reads as an object json.loads does too, though not always
    to the same values (it reads a 30-digit integer as a float), which is why only this
    yes-or-no uses it. json.loads judges what orjson refuses (NaN, UTF-16, lone surrogates)."""
    try:
        return isinstance(orjson.loads(content), dict)
    except orjson.JSONDecodeError:
        pass
    try:
        return isinstance(json.loads(content), dict)
    except (ValueError, RecursionError):
        return False
