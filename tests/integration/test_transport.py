"""AiohttpTransport over real loopback sockets: no cookies, no redirects, one decoding, the
Host header and TLS name it is given, keep-alive as httpx.Limits say, request bodies as sent,
and nothing left open at aclose."""

from __future__ import annotations

import asyncio
import gc
import gzip
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from receiver.net.client import outbound_client
from receiver.net.transport import AiohttpTransport
from tests.integration.raw_http import Connection, raw_server
from tests.integration.test_download_guard import make_certificates

pytestmark = pytest.mark.anyio

HOOK_HOST = "hooks.example.test"


def client(**options: object) -> httpx.AsyncClient:
    return outbound_client(timeout=5.0, backend="aiohttp", **options)


async def test_a_cookie_set_by_the_server_is_never_sent_back() -> None:
    async def sets_cookie(connection: Connection) -> None:
        while await connection.read_request() is not None:
            await connection.answer("200 OK", b"ok", "Set-Cookie: session=abc; Path=/")

    async with raw_server(sets_cookie) as server:
        async with client() as http:
            first = await http.get(server.url + "/a")
            await http.get(server.url + "/b")
        # Below httpx's own (cookieless) jar: the transport adds none either.
        transport = AiohttpTransport()
        try:
            for _ in range(2):
                request = httpx.Request("GET", server.url + "/c")
                response = await transport.handle_async_request(request)
                await response.aread()
        finally:
            await transport.aclose()

    assert first.headers["set-cookie"] == "session=abc; Path=/"
    assert [("cookie" in r.headers) for r in server.requests] == [False] * 4


async def test_a_redirect_comes_back_as_it_is() -> None:
    async def redirects(connection: Connection) -> None:
        await connection.read_request()
        await connection.answer("302 Found", b"", "Location: http://127.0.0.1:1/elsewhere")

    async with raw_server(redirects) as server, client() as http:
        response = await http.post(server.url, content=b"{}")

    assert response.status_code == 302
    assert response.headers["location"] == "http://127.0.0.1:1/elsewhere"
    assert len(server.requests) == 1


async def test_a_gzip_body_is_decoded_exactly_once() -> None:
    body = gzip.compress(b'{"hello": "world"}')

    async def gzipped(connection: Connection) -> None:
        while await connection.read_request() is not None:
            await connection.answer("200 OK", body, "Content-Encoding: gzip")

    async with raw_server(gzipped) as server, client() as http:
        decoded = await http.get(server.url)
        async with http.stream("GET", server.url) as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])

    assert decoded.content == b'{"hello": "world"}'
    assert raw == body


async def test_the_request_carries_exactly_the_headers_httpx_built() -> None:
    async with raw_server() as server, client() as http:
        await http.post(
            server.url + "/p?q=1",
            content=b"{}",
            headers={"Host": f"{HOOK_HOST}:8443", "content-type": "application/json"},
        )
        await http.post(server.url, content=b"raw")

    first, second = server.requests
    assert first.line == "POST /p?q=1 HTTP/1.1"
    assert first.headers["host"] == f"{HOOK_HOST}:8443"
    assert first.headers["content-type"] == "application/json"
    assert first.headers["user-agent"].startswith("python-httpx/")
    assert first.headers["accept-encoding"] == "gzip, deflate"
    assert "content-type" not in second.headers  # aiohttp would add application/octet-stream
    assert second.headers["content-length"] == "3"


class TestRequestBodies:
    async def test_bytes_go_with_their_length(self) -> None:
        async with raw_server() as server, client() as http:
            await http.post(server.url, content=b'{"n": 1}')
        (request,) = server.requests
        assert request.body == b'{"n": 1}'
        assert request.headers["content-length"] == "8"
        assert "transfer-encoding" not in request.headers

    async def test_an_async_iterator_goes_chunked(self) -> None:
        async def parts() -> AsyncIterator[bytes]:
            yield b"abc"
            yield b"def"

        async with raw_server() as server, client() as http:
            response = await http.post(server.url, content=parts())
        (request,) = server.requests
        assert response.status_code == 200
        assert request.body == b"abcdef"
        assert request.headers["transfer-encoding"] == "chunked"

    async def test_a_form_post_goes_as_httpx_encoded_it(self) -> None:
        async with raw_server() as server, client() as http:
            await http.post(server.url, data={"grant_type": "client_credentials"})
        (request,) = server.requests
        assert request.body == b"grant_type=client_credentials"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"


class TestKeepAlive:
    async def test_by_default_one_connection_serves_every_request(self) -> None:
        async with raw_server() as server, client() as http:
            for _ in range(3):
                assert (await http.get(server.url)).status_code == 200
        assert server.connections == 1

    async def test_without_keepalive_each_request_opens_a_connection(self) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with raw_server() as server, client(limits=limits) as http:
            for _ in range(3):
                assert (await http.get(server.url)).status_code == 200
        assert server.connections == 3
        assert [r.headers["connection"] for r in server.requests] == ["close"] * 3

    async def test_max_connections_bounds_the_connections_open_at_once(self) -> None:
        highest = 0

        async def slow(connection: Connection) -> None:
            nonlocal highest
            while await connection.read_request() is not None:
                highest = max(highest, connection.server.open_connections)
                await asyncio.sleep(0.05)
                await connection.answer()

        limits = httpx.Limits(max_connections=2)
        async with raw_server(slow) as server, client(limits=limits) as http:
            answers = await asyncio.gather(*(http.get(server.url) for _ in range(6)))
        assert [a.status_code for a in answers] == [200] * 6
        assert highest == 2


async def test_a_body_closed_early_closes_its_connection_and_the_next_request_works() -> None:
    async def large(connection: Connection) -> None:
        while await connection.read_request() is not None:
            await connection.answer("200 OK", b"x" * (4 * 1024 * 1024))

    async with raw_server(large) as server, client() as http:
        async with http.stream("POST", server.url, content=b"{}") as response:
            async for chunk in response.aiter_bytes():
                assert chunk
                break
        assert (await http.get(server.url)).content == b"x" * (4 * 1024 * 1024)
    assert server.connections == 2


async def test_aclose_leaves_nothing_open() -> None:
    """Warnings are errors here: an unclosed session, connector or socket fails the test."""
    async with raw_server() as server:
        http = client()
        await http.get(server.url)
        await http.aclose()
        unused = client()
        await unused.aclose()
    gc.collect()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context holding a certificate for HOOK_HOST only (no IP address), and a client
    context trusting only the test CA that signed it."""
    ca_pem, (cert, key) = make_certificates(tmp_path_factory.mktemp("tls"), HOOK_HOST)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cadata=ca_pem.decode())


class TestTls:
    async def test_the_sni_name_is_verified_at_the_address_connected_to(
        self, tls: tuple[ssl.SSLContext, ssl.SSLContext]
    ) -> None:
        server_context, trusted = tls
        async with (
            raw_server(tls=server_context) as server,
            client(verify=trusted) as http,
        ):
            response = await http.post(
                f"https://127.0.0.1:{server.port}/hook",
                content=b"{}",
                headers={"Host": HOOK_HOST},
                extensions={"sni_hostname": HOOK_HOST},
            )
        assert response.status_code == 200
        (request,) = server.requests
        assert request.headers["host"] == HOOK_HOST

    async def test_a_name_the_certificate_does_not_hold_is_a_connect_error(
        self, tls: tuple[ssl.SSLContext, ssl.SSLContext]
    ) -> None:
        server_context, trusted = tls
        async with (
            raw_server(tls=server_context) as server,
            client(verify=trusted) as http,
        ):
            with pytest.raises(httpx.ConnectError) as caught:
                await http.post(
                    f"https://127.0.0.1:{server.port}/hook",
                    content=b"{}",
                    headers={"Host": "other.example.test"},
                    extensions={"sni_hostname": "other.example.test"},
                )
        assert str(caught.value).startswith("TLS certificate not accepted: Hostname mismatch")
        assert server.requests == []

    async def test_without_an_sni_name_the_address_is_verified_and_refused(
        self, tls: tuple[ssl.SSLContext, ssl.SSLContext]
    ) -> None:
        server_context, trusted = tls
        async with (
            raw_server(tls=server_context) as server,
            client(verify=trusted) as http,
        ):
            with pytest.raises(httpx.ConnectError):
                await http.get(f"https://127.0.0.1:{server.port}/")

    async def test_a_certificate_from_an_unknown_ca_is_a_connect_error(
        self, tls: tuple[ssl.SSLContext, ssl.SSLContext]
    ) -> None:
        server_context, _ = tls
        async with raw_server(tls=server_context) as server, client() as http:
            with pytest.raises(httpx.ConnectError) as caught:
                await http.get(
                    f"https://127.0.0.1:{server.port}/", extensions={"sni_hostname": HOOK_HOST}
                )
        assert "unable to get local issuer certificate" in str(caught.value)

    async def test_aclose_after_tls_leaves_nothing_open(
        self, tls: tuple[ssl.SSLContext, ssl.SSLContext]
    ) -> None:
        server_context, trusted = tls
        async with raw_server(tls=server_context) as server:
            http = client(verify=trusted)
            url = f"https://127.0.0.1:{server.port}/"
            await http.get(url, extensions={"sni_hostname": HOOK_HOST})
            await http.aclose()
        gc.collect()
