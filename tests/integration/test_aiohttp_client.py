"""AiohttpClient (the default outbound client) against DirectClient over the same transport, on
real loopback: the same request bytes, the same decoded bodies, the same httpx errors."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from receiver.net.client import AiohttpClient, DirectClient, StreamingClient, streaming_client
from receiver.net.transport import AiohttpTransport
from receiver.policy import FailureKind
from receiver.upstream.stedi import UpstreamError, exchange
from tests.integration.raw_http import Connection, Script, raw_server

pytestmark = pytest.mark.anyio

TIMEOUT = httpx.Timeout(2.0)
CLIENTS = ["aiohttp-client", "direct-client"]
BODY = b'{"report": "' + b"x" * 3000 + b'"}'


@asynccontextmanager
async def client(kind: str) -> AsyncIterator[StreamingClient]:
    made: StreamingClient = (
        streaming_client(timeout=TIMEOUT)
        if kind == "aiohttp-client"
        else DirectClient(AiohttpTransport(), timeout=TIMEOUT)
    )
    try:
        yield made
    finally:
        await made.aclose()


async def read(kind: str, url: str, **options: object) -> tuple[int, bytes]:
    async with client(kind) as http, http.stream("GET", url, **options) as response:  # type: ignore[arg-type]
        return response.status_code, b"".join([chunk async for chunk in response.aiter_bytes()])


def answering(body: bytes, *extra: str) -> Script:
    async def script(connection: Connection) -> None:
        while await connection.read_request() is not None:
            await connection.answer("200 OK", body, *extra)

    return script


async def test_the_default_client_is_the_aiohttp_client() -> None:
    async with client("aiohttp-client") as http:
        assert isinstance(http, AiohttpClient)


async def test_both_clients_send_the_same_headers_the_callers_winning() -> None:
    async with raw_server() as server:
        for kind in CLIENTS:
            async with client(kind) as http:
                async with http.stream(
                    "POST",
                    server.url + "/hook",
                    content=b'{"id": 1}',
                    headers={"User-Agent": "mine/2", "webhook-id": "m1", "Connection": "close"},
                ) as response:
                    assert response.status_code == 200
                async with http.stream("GET", server.url + "/report") as response:
                    assert response.status_code == 200
    fast_post, fast_get, direct_post, direct_get = server.requests
    assert fast_post.headers == direct_post.headers
    assert fast_get.headers == direct_get.headers
    assert fast_post.body == direct_post.body == b'{"id": 1}'
    assert fast_post.line == "POST /hook HTTP/1.1"
    assert fast_post.headers["user-agent"] == "mine/2"
    assert fast_post.headers["content-length"] == "9"
    assert fast_post.headers["webhook-id"] == "m1"
    assert fast_get.headers["user-agent"] == "receiver/1"
    assert fast_get.headers["accept"] == "*/*"
    assert fast_get.headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize(
    "path",
    [
        "/reports/a b/835",
        "/r\u00e9ports?q=a b",
        "/x%7Ey?k=%2F&v=1",
        "/plain/path?a=1&b=2",
        "/bad%zz/100%",  # a % that starts no escape
    ],
)
async def test_both_clients_send_the_same_request_line_for_any_url(path: str) -> None:
    async with raw_server() as server:
        for kind in CLIENTS:
            async with client(kind) as http, http.stream("GET", server.url + path) as response:
                assert response.status_code == 200
    fast, direct = server.requests
    assert fast.line == direct.line
    method, target, version = fast.line.split(" ")  # the target was percent-encoded
    assert (method, version) == ("GET", "HTTP/1.1")
    assert target.isascii()


async def test_a_pinned_host_header_is_sent_as_given() -> None:
    async with (
        raw_server() as server,
        client("aiohttp-client") as http,
        http.stream(
            "POST", server.url + "/hook", content=b"{}", headers={"host": "hooks.example.com"}
        ) as response,
    ):
        assert response.status_code == 200
    (request,) = server.requests
    assert request.headers["host"] == "hooks.example.com"


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(BODY)),
        ("deflate", zlib.compress(BODY)),  # zlib-wrapped, as the RFC means it
        ("deflate", _raw_deflate(BODY)),  # raw, as some servers send it
        ("gzip, deflate", zlib.compress(gzip.compress(BODY))),  # applied in order
        ("identity", BODY),
        ("br", b"not decoded"),  # a coding receiver never asks for passes through, as in httpx
    ],
)
async def test_both_clients_decode_a_body_the_same_way(coding: str, encoded: bytes) -> None:
    async with raw_server(answering(encoded, f"Content-Encoding: {coding}")) as server:
        fast = await read("aiohttp-client", server.url + "/report")
        direct = await read("direct-client", server.url + "/report")
    assert fast == direct
    assert fast == (200, b"not decoded" if coding == "br" else BODY)


@pytest.mark.parametrize("kind", CLIENTS)
async def test_a_body_that_does_not_decode_is_a_decoding_error(kind: str) -> None:
    async with raw_server(answering(b"not gzip at all", "Content-Encoding: gzip")) as server:
        with pytest.raises(httpx.DecodingError):
            await read(kind, server.url + "/report")


async def test_stedi_reads_an_undecodable_body_as_a_transient_upstream_error() -> None:
    undecodable = answering(b"not gzip at all", "Content-Encoding: gzip")
    async with raw_server(undecodable) as server, client("aiohttp-client") as http:
        with pytest.raises(UpstreamError) as caught:
            await exchange(
                http, "GET", server.url + "/report", endpoint="report", metrics=None,
                max_response_bytes=1 << 20,
            )  # fmt: skip
    assert caught.value.kind == FailureKind.TRANSIENT
    assert caught.value.reason == "response body does not decode as its Content-Encoding says"


@pytest.mark.parametrize("kind", CLIENTS)
async def test_a_body_cut_short_is_a_remote_protocol_error(kind: str) -> None:
    async def cut_short(connection: Connection) -> None:
        await connection.read_request()
        await connection.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        connection.close()

    async with raw_server(cut_short) as server:
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete or malformed"):
            await read(kind, server.url + "/report")


@pytest.mark.parametrize("kind", CLIENTS)
async def test_a_refused_connection_is_a_connect_error(kind: str) -> None:
    async with raw_server() as server:
        url = server.url + "/report"
    with pytest.raises(httpx.ConnectError):
        await read(kind, url)


async def test_a_body_left_unread_does_not_spoil_the_next_request() -> None:
    async with raw_server(answering(b"y" * 200_000)) as server, client("aiohttp-client") as http:
        async with http.stream("GET", server.url + "/big") as response:
            async for _chunk in response.aiter_bytes():
                break  # as Sender reads only an excerpt
        async with http.stream("GET", server.url + "/big") as response:
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert body == b"y" * 200_000
    assert len(server.requests) == 2


async def test_a_body_of_anything_but_bytes_is_refused() -> None:
    async with client("aiohttp-client") as http:
        with pytest.raises(TypeError, match="bytes only"):
            async with http.stream("POST", "http://127.0.0.1:9/", content="text"):  # type: ignore[arg-type]
                pass
