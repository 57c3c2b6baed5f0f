"""A raw asyncio HTTP/1.1 server on loopback for transport tests: each connection is handed to
a script that reads requests and writes whatever bytes the test needs (malformed heads,
truncated bodies, disconnects), and the server records connections and requests."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class RawRequest:
    """One request as it arrived: request line, headers (lower-cased names) and body."""

    line: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Connection:
    """One accepted connection, read request by request."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    server: RawServer

    async def read_request(self) -> RawRequest | None:
        """The next request (None at end of stream), recorded on the server."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for item in lines:
            if item:
                name, _, value = item.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = await self._read_chunked()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        request = RawRequest(line, headers, body)
        self.server.requests.append(request)
        return request

    async def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return body
            body += chunk[:-2]

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, status: str = "200 OK", body: bytes = b"ok", *extra: str) -> None:
        """A complete response with Content-Length."""
        head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *extra]
        await self.send(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def close(self) -> None:
        self.writer.close()


Script = Callable[[Connection], Awaitable[None]]


async def answer_all(connection: Connection) -> None:
    """The default script: answer every request 200 with body `ok`, keeping the connection."""
    while await connection.read_request() is not None:
        await connection.answer()


@dataclass
class RawServer:
    """Where the server listens and what it saw."""

    port: int
    requests: list[RawRequest] = field(default_factory=list)
    connections: int = 0
    open_connections: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def raw_server(
    script: Script = answer_all, *, tls: ssl.SSLContext | None = None
) -> AsyncIterator[RawServer]:
    """Serve `script` on a free loopback port for the block's duration."""
    state = RawServer(0)
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        state.open_connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await script(Connection(reader, writer, state))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            state.open_connections -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
            tasks.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
