"""Fetching an outbound transaction's X12: the download-host rule (pure) and the client's
redirect handling over httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest

from receiver.policy import FailureKind
from receiver.upstream.stedi import (
    DownloadLocationError,
    StediClient,
    TransactionArtifact,
    UpstreamError,
    _is_json_object,
    check_download_location,
    host_matches,
    parse_host_patterns,
    transaction_output_url,
)
from tests.conftest import fixture_bytes

NOW = datetime(2025, 3, 14, 15, 5, tzinfo=UTC)
API_KEY = "test-stedi-key-9f8e7d6c5b4a"
TRANSACTION_ID = "0f3a9c2e-6b1d-4e8a-9c47-2d5e8f1a7b30"
CORE = "https://core.stedi.test/2023-08-01"
X12 = fixture_bytes("stedi/transaction-837p.x12")
S3_URL = (
    "https://stedi-docs.s3.us-east-1.amazonaws.com/out/"
    f"{TRANSACTION_ID}?X-Amz-Expires=300&X-Amz-Signature=abc123"
)
AMAZON = ("*.amazonaws.com",)
S3_ADDRESS = "52.216.8.16"  # a public address, as S3's are
S3_HOST = "stedi-docs.s3.us-east-1.amazonaws.com"
S3_PINNED = S3_URL.replace(S3_HOST, S3_ADDRESS)


class FakeResolver:
    """Resolves every name to `addresses` and records what it was asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.addresses


# -- host_matches ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "patterns", "expected"),
    [
        ("bucket.s3.amazonaws.com", AMAZON, True),
        ("s3.amazonaws.com", AMAZON, True),
        ("BUCKET.S3.AmazonAWS.com", AMAZON, True),
        ("bucket.s3.amazonaws.com.", AMAZON, True),
        ("amazonaws.com", AMAZON, False),
        ("evilamazonaws.com", AMAZON, False),
        ("amazonaws.com.evil.example", AMAZON, False),
        ("bucket.s3.amazonaws.com.evil.example", AMAZON, False),
        ("127.0.0.1", ("127.0.0.1",), True),
        ("127.0.0.2", ("127.0.0.1",), False),
        ("files.example.com", ("example.com",), False),
        ("example.com", ("example.com",), True),
        ("files.example.com", ("example.com", "*.example.com"), True),
        ("", AMAZON, False),
        ("bücket.amazonaws.com", AMAZON, False),
        ("bucket.s3.amazonaws.com", (), False),
    ],
)
def test_host_matches(host: str, patterns: tuple[str, ...], expected: bool) -> None:
    assert host_matches(host, patterns) is expected


def test_parse_host_patterns_lowercases_and_drops_blanks() -> None:
    assert parse_host_patterns(" *.AmazonAWS.com, ,127.0.0.1 ") == ("*.amazonaws.com", "127.0.0.1")
    assert parse_host_patterns("") == ()


@pytest.mark.parametrize("value", ["*", "*.", "a.*.com", "host:443", "https://x.example/"])
def test_parse_host_patterns_rejects_bad_patterns(value: str) -> None:
    with pytest.raises(ValueError, match="host name"):
        parse_host_patterns(value)


# -- check_download_location -------------------------------------------------------------------


def test_accepts_an_https_presigned_url_and_keeps_it_whole() -> None:
    assert check_download_location(S3_URL, AMAZON) == S3_URL


def test_accepts_http_for_a_host_listed_exactly() -> None:
    url = "http://127.0.0.1:8123/download/x?sig=1"
    assert check_download_location(url, ("127.0.0.1",)) == url


@pytest.mark.parametrize(
    ("location", "patterns", "message"),
    [
        ("", AMAZON, "not an absolute"),
        ("/download/x", AMAZON, "not an absolute"),
        ("//bucket.s3.amazonaws.com/x", AMAZON, "not an absolute"),
        ("ftp://bucket.s3.amazonaws.com/x", AMAZON, "not an absolute"),
        ("https://evil.example/x", AMAZON, "'evil.example' is not allowed"),
        ("https://amazonaws.com.evil.example/x", AMAZON, "is not allowed"),
        ("http://bucket.s3.amazonaws.com/x", AMAZON, "plain http"),
        ("https://user:pw@bucket.s3.amazonaws.com/x", AMAZON, "userinfo"),
        ("https://evil.example@bucket.s3.amazonaws.com/x", AMAZON, "userinfo"),
        ("https://bucket.s3.amazonaws.com:99999/x", AMAZON, "not a valid URL"),
        ("https://[::1/x", AMAZON, "not a valid URL"),
        ("http://127.0.0.1:8123/x", AMAZON, "is not allowed"),
    ],
)
def test_refuses_other_locations(location: str, patterns: tuple[str, ...], message: str) -> None:
    with pytest.raises(DownloadLocationError, match=message) as caught:
        check_download_location(location, patterns)
    assert "/x" not in str(caught.value)  # the (signed) URL itself is never echoed


def test_transaction_output_url() -> None:
    assert transaction_output_url(CORE + "/", "abc-123") == f"{CORE}/transactions/abc-123/output"
    assert (
        transaction_output_url(CORE, "abc-123", TransactionArtifact.INPUT)
        == f"{CORE}/transactions/abc-123/input"
    )
    with pytest.raises(ValueError, match="transaction id"):
        transaction_output_url(CORE, "../evil")


# -- StediClient.fetch_transaction_output over a MockTransport ---------------------------------


@asynccontextmanager
async def client_with(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    download_hosts: str | None = None,
    resolver: FakeResolver | None = None,
) -> AsyncIterator[StediClient]:
    transport = httpx.MockTransport(handler)
    options = {} if download_hosts is None else {"download_hosts": download_hosts}
    client = StediClient(
        healthcare_url="https://hc.stedi.test",
        core_url=CORE,
        transport=transport,
        resolver=resolver or FakeResolver(S3_ADDRESS),
        **options,
    )
    try:
        yield client
    finally:
        await client.aclose()


async def fetch(client: StediClient) -> bytes:
    return await client.fetch_transaction_output(
        account="acme", api_key=API_KEY, transaction_id=TRANSACTION_ID, now=NOW
    )


def redirect_then(
    download: httpx.Response, seen: list[httpx.Request]
) -> Callable[..., httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "core.stedi.test":
            return httpx.Response(302, headers={"Location": S3_URL})
        return download

    return handler


@pytest.mark.anyio
async def test_follows_the_redirect_once_without_the_api_key() -> None:
    seen: list[httpx.Request] = []
    async with client_with(redirect_then(httpx.Response(200, content=X12), seen)) as client:
        assert await fetch(client) == X12
    assert [str(r.url) for r in seen] == [
        f"{CORE}/transactions/{TRANSACTION_ID}/output",
        S3_PINNED,
    ]
    assert seen[0].headers["authorization"] == API_KEY
    assert "authorization" not in seen[1].headers
    assert API_KEY not in str(seen[1].headers)


@pytest.mark.anyio
async def test_default_hosts_refuse_a_location_elsewhere_without_requesting_it() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://evil.example/steal?sig=1"})

    async with client_with(handler) as client:
        with pytest.raises(UpstreamError) as caught:
            await fetch(client)
    assert (caught.value.kind, caught.value.status) == (FailureKind.PERMANENT, 302)
    assert "RECEIVER_STEDI_DOWNLOAD_HOSTS" in caught.value.reason
    assert [r.url.host for r in seen] == ["core.stedi.test"]


@pytest.mark.anyio
async def test_a_second_redirect_is_not_followed() -> None:
    seen: list[httpx.Request] = []
    again = httpx.Response(302, headers={"Location": "https://other.s3.amazonaws.com/y"})
    async with client_with(redirect_then(again, seen)) as client:
        with pytest.raises(UpstreamError) as caught:
            await fetch(client)
    assert (caught.value.kind, caught.value.status) == (FailureKind.PERMANENT, 302)
    assert caught.value.reason == "download: HTTP 302"
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, FailureKind.TRANSIENT),
        (503, FailureKind.TRANSIENT),
        (429, FailureKind.TRANSIENT),
        (404, FailureKind.NOT_FOUND),
        # S3's answer to a presigned URL that expired: the next attempt gets a fresh one.
        (403, FailureKind.TRANSIENT),
    ],
)
@pytest.mark.anyio
async def test_download_failures_are_classified_like_reports(
    status: int, kind: FailureKind
) -> None:
    seen: list[httpx.Request] = []
    failing = httpx.Response(status, headers={"Retry-After": "7"}, content=b"<Error/>")
    async with client_with(redirect_then(failing, seen)) as client:
        with pytest.raises(UpstreamError) as caught:
            await fetch(client)
    error = caught.value
    assert (error.kind, error.status, error.reason, error.retry_after) == (
        kind,
        status,
        f"download: HTTP {status}",
        7.0,
    )


@pytest.mark.parametrize(
    ("status", "kind"), [(401, FailureKind.PERMANENT), (429, FailureKind.TRANSIENT)]
)
@pytest.mark.anyio
async def test_output_failures_are_classified_like_reports(status: int, kind: FailureKind) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"message": "nope"})

    async with client_with(handler) as client:
        with pytest.raises(UpstreamError) as caught:
            await fetch(client)
    assert (caught.value.kind, caught.value.status, caught.value.reason) == (
        kind,
        status,
        f"HTTP {status}",
    )


@pytest.mark.anyio
async def test_a_direct_200_is_accepted() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=X12)

    async with client_with(handler) as client:
        assert await fetch(client) == X12
    assert len(seen) == 1


@pytest.mark.anyio
async def test_a_body_that_does_not_decode_is_a_transient_upstream_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not gzip at all", headers={"Content-Encoding": "gzip"})

    async with client_with(handler) as client:
        with pytest.raises(UpstreamError) as caught:
            await fetch(client)
    assert caught.value.kind == FailureKind.TRANSIENT
    assert caught.value.reason == "response body does not decode as its Content-Encoding says"


@pytest.mark.parametrize("content", [b"", b'{"heading": {}}', b"\xff\xfe"])
@pytest.mark.anyio
async def test_a_body_that_is_not_x12_is_permanent(content: bytes) -> None:
    seen: list[httpx.Request] = []
    async with client_with(redirect_then(httpx.Response(200, content=content), seen)) as client:
        with pytest.raises(UpstreamError) as caught:
            await fetch(client)
    assert (caught.value.kind, caught.value.reason) == (
        FailureKind.PERMANENT,
        "transaction output is not X12",
    )


@pytest.mark.anyio
async def test_configured_hosts_replace_the_default() -> None:
    seen: list[httpx.Request] = []
    async with client_with(
        redirect_then(httpx.Response(200, content=X12), seen), download_hosts="files.example.com"
    ) as client:
        with pytest.raises(UpstreamError, match="not allowed"):
            await fetch(client)
    assert len(seen) == 1


def test_bad_download_hosts_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="host name"):
        StediClient(healthcare_url="https://hc.stedi.test", download_hosts="*")


class _Trickle(httpx.AsyncByteStream):
    """A body sent in 1 KiB chunks with no Content-Length: its size shows only while read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.size:
            self.sent += 1024
            yield b"ISA" + b"*" * 1021


@pytest.mark.anyio
@pytest.mark.parametrize("declared", [True, False])
async def test_a_download_over_the_size_limit_is_permanent_and_not_read_to_the_end(
    declared: bool,
) -> None:
    limit = 64 * 1024
    body = _Trickle(10 * limit)
    headers = {"Content-Length": str(body.size)} if declared else {}
    seen: list[httpx.Request] = []
    download = httpx.Response(200, headers=headers, stream=body)
    transport = httpx.MockTransport(redirect_then(download, seen))
    client = StediClient(
        healthcare_url="https://hc.stedi.test",
        core_url=CORE,
        transport=transport,
        max_response_bytes=limit,
        resolver=FakeResolver(S3_ADDRESS),
    )
    try:
        with pytest.raises(UpstreamError) as caught:
            await fetch(client)
    finally:
        await client.aclose()
    error = caught.value
    assert (error.kind, error.status) == (FailureKind.PERMANENT, 200)
    assert error.reason == (
        f"response larger than {limit} bytes (RECEIVER_STEDI_MAX_RESPONSE_BYTES: raise it, "
        "then jobs retry)"
    )
    # Refused from the header before reading, or right after the chunk that crossed the limit.
    assert body.sent == (0 if declared else limit + 1024)


# -- the download host's addresses: the SSRF guard subscriptions use ---------------------------


def redirect_to(location: str, seen: list[httpx.Request]) -> Callable[..., httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "core.stedi.test":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, content=X12)

    return handler


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "::1",
        "::ffff:127.0.0.1",
        "169.254.169.254",  # cloud metadata
        "192.168.1.10",
        "172.16.0.1",
        "0.0.0.0",  # noqa: S104 (an answer to refuse, not a bind)
        "224.0.0.1",
        "240.0.0.1",
        "fd00::1",
        "fe80::1",
        "ff02::1",
        "::",
    ],
)
@pytest.mark.anyio
async def test_a_matching_host_resolving_to_a_non_public_address_kills_the_job_unrequested(
    address: str,
) -> None:
    seen: list[httpx.Request] = []
    resolver = FakeResolver(address)
    async with client_with(
        redirect_then(httpx.Response(200, content=X12), seen), resolver=resolver
    ) as client:
        with pytest.raises(UpstreamError) as caught:
            await fetch(client)
    assert (caught.value.kind, caught.value.reason) == (
        FailureKind.PERMANENT,
        f"download refused: destination host {S3_HOST!r} resolves to a non-public address",
    )
    assert [r.url.host for r in seen] == ["core.stedi.test"]  # the download was never sent
    assert resolver.asked == [(S3_HOST, 443)]
    assert address not in caught.value.reason
    assert "Signature" not in caught.value.reason


@pytest.mark.anyio
async def test_a_name_that_only_looks_like_aws_is_checked_by_its_address() -> None:
    seen: list[httpx.Request] = []
    handler = redirect_to("https://127.0.0.1.amazonaws.com/x?sig=1", seen)
    async with client_with(handler, resolver=FakeResolver("127.0.0.1")) as client:
        with pytest.raises(UpstreamError, match="non-public address") as caught:
            await fetch(client)
    assert caught.value.kind is FailureKind.PERMANENT
    assert len(seen) == 1


@pytest.mark.anyio
async def test_every_address_must_be_public() -> None:
    seen: list[httpx.Request] = []
    resolver = FakeResolver(S3_ADDRESS, "10.0.0.1")
    async with client_with(
        redirect_then(httpx.Response(200, content=X12), seen), resolver=resolver
    ) as client:
        with pytest.raises(UpstreamError, match="non-public address"):
            await fetch(client)
    assert len(seen) == 1


@pytest.mark.anyio
async def test_a_literal_address_is_checked_without_resolving() -> None:
    seen: list[httpx.Request] = []
    resolver = FakeResolver(S3_ADDRESS)
    handler = redirect_to("http://127.0.0.1:8123/download/x?sig=1", seen)
    async with client_with(handler, download_hosts="127.0.0.1", resolver=resolver) as client:
        with pytest.raises(UpstreamError, match="'127.0.0.1' resolves to a non-public"):
            await fetch(client)
    assert resolver.asked == []
    assert len(seen) == 1


@pytest.mark.anyio
async def test_the_download_connects_to_the_checked_address_with_the_name_in_tls() -> None:
    """One lookup, and the request goes to its answer: a resolver that would answer a second
    lookup with a private address (DNS rebinding) is never asked again."""

    class Rebinding(FakeResolver):
        async def __call__(self, host: str, port: int) -> list[str]:
            answer = [S3_ADDRESS] if not self.asked else ["127.0.0.1"]
            await super().__call__(host, port)
            return answer

    seen: list[httpx.Request] = []
    resolver = Rebinding()
    async with client_with(
        redirect_then(httpx.Response(200, content=X12), seen), resolver=resolver
    ) as client:
        assert await fetch(client) == X12
    download = seen[1]
    assert str(download.url) == S3_PINNED
    assert download.headers["host"] == S3_HOST
    assert download.extensions["sni_hostname"] == S3_HOST
    assert resolver.asked == [(S3_HOST, 443)]


@pytest.mark.anyio
async def test_a_dns_failure_is_transient() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise OSError("temporary failure in name resolution")

    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(redirect_then(httpx.Response(200, content=X12), seen))
    client = StediClient(
        healthcare_url="https://hc.stedi.test", core_url=CORE, transport=transport, resolver=failing
    )
    try:
        with pytest.raises(UpstreamError) as caught:
            await fetch(client)
    finally:
        await client.aclose()
    assert caught.value.kind is FailureKind.TRANSIENT
    assert caught.value.reason.startswith(f"download: cannot resolve destination host {S3_HOST!r}")
    assert len(seen) == 1


@pytest.mark.anyio
async def test_private_downloads_can_be_allowed_for_tests() -> None:
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(redirect_to("http://127.0.0.1:8123/download/x?sig=1", seen))
    client = StediClient(
        healthcare_url="https://hc.stedi.test",
        core_url=CORE,
        transport=transport,
        download_hosts="127.0.0.1",
        allow_private_downloads=True,
    )
    try:
        assert await fetch(client) == X12
    finally:
        await client.aclose()
    assert str(seen[1].url) == "http://127.0.0.1:8123/download/x?sig=1"
    assert "sni_hostname" not in seen[1].extensions


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount": 132.40, "n": [1, 2.5e-3, -0.0], "s": "caf\\u00e9"}',  # orjson reads it
        b'{"paid": NaN, "left": Infinity}',  # only json.loads accepts these
        b'{"id": 123456789012345678901234567890}',  # orjson reads it as a float
        b'{"s": "\\ud800"}',  # a lone surrogate escape
        '{"utf16": true}'.encode("utf-16"),
        b"[1, 2]",  # not an object
        b"not json",
    ],
)
def test_a_report_is_json_when_json_loads_reads_an_object(raw: bytes) -> None:
    try:
        expected = isinstance(json.loads(raw), dict)
    except ValueError:
        expected = False
    assert _is_json_object(raw) is expected
