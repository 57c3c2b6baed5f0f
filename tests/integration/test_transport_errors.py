"""AiohttpTransport's failures over real loopback sockets: Connect* errors only before anything
was sent, a disconnect after sending never one of them, every network failure an
httpx.TransportError, cancellation untouched."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest
from aiohttp.http_exceptions import BadStatusLine

from receiver.net.transport import (
    AiohttpTransport,
    client_timeout,
    head_deadline,
    transport_error,
)
from tests.integration.raw_http import Connection, raw_server

pytestmark = pytest.mark.anyio

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def client(timeout: float = 2.0, **limits: int) -> httpx.AsyncClient:
    transport = AiohttpTransport(limits=httpx.Limits(**limits) if limits else None)
    return httpx.AsyncClient(transport=transport, timeout=timeout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TestBeforeSending:
    async def test_a_refused_connection_is_a_connect_error(self) -> None:
        async with client() as http:
            with pytest.raises(httpx.ConnectError) as caught:
                await http.post(f"http://127.0.0.1:{free_port()}/", content=b"{}")
        assert str(caught.value) == "Connection refused (ClientConnectorError)"
        assert caught.value.request.method == "POST"

    async def test_a_name_that_does_not_resolve_is_a_connect_error(self) -> None:
        async with client() as http:
            with pytest.raises(httpx.ConnectError) as caught:
                await http.get("http://no-such-host.invalid/")
        assert "ClientConnectorDNSError" in str(caught.value)

    async def test_a_tls_handshake_with_a_plain_server_is_a_connect_error(self) -> None:
        async def garbage(connection: Connection) -> None:
            await connection.send(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        async with raw_server(garbage) as server, client() as http:
            with pytest.raises(httpx.ConnectError) as caught:
                await http.get(f"https://127.0.0.1:{server.port}/")
        assert str(caught.value).startswith("TLS handshake failed: ")

    async def test_a_tls_handshake_that_never_ends_is_a_connect_timeout(self) -> None:
        """The TLS handshake is part of the connect phase: no byte of the request is sent."""

        async def silent(connection: Connection) -> None:
            await asyncio.sleep(30)

        async with raw_server(silent) as server, client(timeout=0.3) as http:
            with pytest.raises(httpx.ConnectTimeout) as caught:
                await http.post(f"https://127.0.0.1:{server.port}/", content=b"{}")
        assert str(caught.value) == "connect timed out (ConnectionTimeoutError)"
        assert server.requests == []

    async def test_waiting_for_a_pool_slot_is_a_not_sent_timeout(self) -> None:
        async def slow(connection: Connection) -> None:
            while await connection.read_request() is not None:
                await asyncio.sleep(1.0)
                await connection.answer()

        timeout = httpx.Timeout(5.0, pool=0.2, connect=0.1)
        transport = AiohttpTransport(limits=httpx.Limits(max_connections=1))
        async with raw_server(slow) as server, httpx.AsyncClient(transport=transport) as http:
            first = asyncio.ensure_future(http.get(server.url, timeout=timeout))
            await asyncio.sleep(0.1)
            with pytest.raises(NOT_SENT):
                await http.get(server.url, timeout=timeout)
            assert (await first).status_code == 200
        assert len(server.requests) == 1


class TestAfterSending:
    async def test_no_answer_is_a_read_timeout(self) -> None:
        async def mute(connection: Connection) -> None:
            await connection.read_request()
            await asyncio.sleep(30)

        async with raw_server(mute) as server, client(timeout=0.3) as http:
            with pytest.raises(httpx.ReadTimeout) as caught:
                await http.post(server.url, content=b"{}")
        assert str(caught.value) == "read timed out (SocketTimeoutError)"
        assert len(server.requests) == 1

    async def test_a_body_that_stops_coming_is_a_read_timeout_while_reading(self) -> None:
        async def stalls(connection: Connection) -> None:
            await connection.read_request()
            await connection.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
            await asyncio.sleep(30)

        async with (
            raw_server(stalls) as server,
            client(timeout=0.3) as http,
            http.stream("GET", server.url) as response,
        ):
            assert response.status_code == 200
            with pytest.raises(httpx.ReadTimeout):
                await response.aread()

    async def test_an_upload_the_server_never_reads_is_a_write_timeout(self) -> None:
        """aiohttp has no write timeout: the transport's deadline for the head (pool +
        connect + write + read) ends the stalled upload."""

        async def never_reads(connection: Connection) -> None:
            await asyncio.sleep(30)

        async def body() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b"x" * (1024 * 1024)

        async with raw_server(never_reads) as server, client(timeout=0.25) as http:
            started = time.monotonic()
            with pytest.raises(httpx.WriteTimeout):
                await http.post(server.url, content=body())
        assert 0.9 < time.monotonic() - started < 5

    async def test_a_small_upload_the_server_never_reads_is_a_read_timeout(self) -> None:
        """Up to 64 KiB is buffered whole at once; aiohttp's read timer then runs."""

        async def never_reads(connection: Connection) -> None:
            await asyncio.sleep(30)

        async with raw_server(never_reads) as server, client(timeout=0.25) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.post(server.url, content=b"x" * (64 * 1024))

    async def test_a_close_after_the_request_is_a_remote_protocol_error(self) -> None:
        async def hangs_up(connection: Connection) -> None:
            await connection.read_request()

        async with raw_server(hangs_up) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await http.post(server.url, content=b'{"n": 1}')
        assert "ServerDisconnectedError" in str(caught.value)
        assert [r.body for r in server.requests] == [b'{"n": 1}']

    async def test_a_reset_after_the_request_is_a_read_error(self) -> None:
        async def resets(connection: Connection) -> None:
            await connection.read_request()
            sock = connection.writer.get_extra_info("socket")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            connection.writer.transport.abort()

        async with raw_server(resets) as server, client() as http:
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)) as caught:
                await http.post(server.url, content=b"{}")
        assert not isinstance(caught.value, NOT_SENT)

    async def test_a_stale_kept_alive_connection_closed_on_a_post_is_not_a_connect_error(
        self,
    ) -> None:
        """The server answers once, then reads the next POST on the same connection and closes:
        the POST was sent, so the error must not read as "not sent" (a resend duplicates)."""

        async def once(connection: Connection) -> None:
            await connection.read_request()
            await connection.answer()
            await connection.read_request()

        async with raw_server(once) as server, client() as http:
            assert (await http.post(server.url, content=b"1")).status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(server.url, content=b"2")
        assert [r.body for r in server.requests] == [b"1", b"2"]
        assert server.connections == 1

    async def test_a_stale_kept_alive_connection_on_a_get_is_retried_once_by_aiohttp(
        self,
    ) -> None:
        """aiohttp resends an idempotent request once on a new connection (RFC 9112 9.3.1)."""

        async def once(connection: Connection) -> None:
            await connection.read_request()
            await connection.answer()
            await connection.read_request()

        async with raw_server(once) as server, client() as http:
            assert (await http.get(server.url)).status_code == 200
            assert (await http.get(server.url)).status_code == 200
        assert server.connections == 2
        assert len(server.requests) == 3


class TestMalformedAnswers:
    @pytest.mark.parametrize(
        "head",
        [
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"NOT-HTTP\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        ],
    )
    async def test_a_malformed_head_is_a_remote_protocol_error(self, head: bytes) -> None:
        async def malformed(connection: Connection) -> None:
            await connection.read_request()
            await connection.send(head)

        async with raw_server(malformed) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await http.get(server.url)
        assert str(caught.value).startswith("malformed response head")

    async def test_a_head_cut_short_is_a_remote_protocol_error(self) -> None:
        async def cut(connection: Connection) -> None:
            await connection.read_request()
            await connection.send(b"HTTP/1.1 200 OK\r\nContent-")

        async with raw_server(cut) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url)

    async def test_a_truncated_body_raises_from_the_stream(self) -> None:
        async def truncated(connection: Connection) -> None:
            await connection.read_request()
            await connection.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")

        async with (
            raw_server(truncated) as server,
            client() as http,
            http.stream("GET", server.url) as response,
        ):
            assert response.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await response.aread()
        assert str(caught.value) == "response body incomplete or malformed (ClientPayloadError)"


class TestCancellation:
    async def test_cancelling_a_request_in_flight_raises_cancelled_error(self) -> None:
        async def mute(connection: Connection) -> None:
            await connection.read_request()
            await asyncio.sleep(30)

        async with raw_server(mute) as server, client(timeout=10.0) as http:
            task = asyncio.ensure_future(http.post(server.url, content=b"{}"))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    async def test_cancelling_a_body_read_raises_cancelled_error(self) -> None:
        async def stalls(connection: Connection) -> None:
            await connection.read_request()
            await connection.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
            await asyncio.sleep(30)

        async def read(http: httpx.AsyncClient, url: str) -> bytes:
            async with http.stream("GET", url) as response:
                return await response.aread()

        async with raw_server(stalls) as server, client(timeout=10.0) as http:
            task = asyncio.ensure_future(read(http, server.url))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


REQUEST = httpx.Request("POST", "https://hooks.example.test/secret-path?token=abc")


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (aiohttp.ConnectionTimeoutError("Connection timeout to host x"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("Timeout on reading"), httpx.ReadTimeout),
        (aiohttp.ServerTimeoutError("timeout"), httpx.ReadTimeout),
        (TimeoutError(), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (
            aiohttp.ClientPayloadError("Response payload is not completed"),
            httpx.RemoteProtocolError,
        ),
        (BadStatusLine("junk"), httpx.RemoteProtocolError),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), httpx.ReadError),
        (aiohttp.ClientConnectionResetError("Cannot write"), httpx.ReadError),
        (aiohttp.ClientConnectionError("Connection closed"), httpx.ReadError),
        (ConnectionResetError(104, "Connection reset by peer"), httpx.ReadError),
        (OSError("anything"), httpx.ReadError),
        (EOFError(), httpx.ReadError),
        (aiohttp.ClientError("anything"), httpx.ReadError),
        (aiohttp.InvalidURL("https://hooks.example.test/secret-path"), httpx.UnsupportedProtocol),
        (ValueError("Newline in header"), httpx.LocalProtocolError),
    ],
)
def test_each_failure_maps_to_a_transport_error_without_the_url(
    raised: BaseException, expected: type[httpx.TransportError]
) -> None:
    mapped = transport_error(raised, REQUEST)

    assert type(mapped) is expected
    assert isinstance(mapped, httpx.TransportError)
    assert mapped.request is REQUEST
    assert "secret-path" not in str(mapped)
    assert "hooks.example.test" not in str(mapped)


def test_connector_failures_map_to_connect_errors() -> None:
    key = aiohttp.client_reqrep.ConnectionKey("h", 443, True, True, None, None, None)
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))
    failed_dns = aiohttp.ClientConnectorDNSError(key, OSError(-2, "Name or service not known"))
    handshake = aiohttp.ClientConnectorSSLError(key, ssl.SSLError(1, "wrong version"))

    for raised in (refused, failed_dns, handshake):
        assert type(transport_error(raised, REQUEST)) is httpx.ConnectError
    assert str(transport_error(refused, REQUEST)) == "Connection refused (ClientConnectorError)"


class TestClientTimeout:
    def test_the_head_deadline_is_the_sum_of_all_four(self) -> None:
        assert head_deadline(5.0, 15.0, 15.0, 15.0) == 50.0
        assert head_deadline(5.0, 15.0, None, 15.0) is None

    def test_httpx_timeouts_become_aiohttp_ones(self) -> None:
        assert client_timeout(5.0, 15.0, 15.0, 15.0) == aiohttp.ClientTimeout(
            total=None, connect=20.0, sock_connect=5.0, sock_read=15.0
        )

    def test_no_pool_timeout_leaves_the_connect_phase_unbounded_but_each_connect_not(
        self,
    ) -> None:
        assert client_timeout(5.0, None, None, None) == aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=5.0, sock_read=None
        )
