"""Serve an ASGI app under uvicorn in a thread on a loopback socket (tests, the demo)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

EXIT_POLL_S = 0.005  # how often a thread server looks at `should_exit` and its connections


class ThreadServer(uvicorn.Server):
    """A uvicorn server stopped from another thread as soon as `should_exit` is set.

    uvicorn looks at `should_exit` every 0.1 s, then pauses 0.1 s more for open connections
    whether or not there are any: 0.15 s per stop, paid by every test that starts a server.
    This one looks every 5 ms, and waits for connections only while some are open. It is
    otherwise uvicorn's shutdown: stop accepting, ask each connection to close, wait for them
    (and their tasks) up to `timeout_graceful_shutdown`, then the lifespan's shutdown.
    """

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            await asyncio.sleep(EXIT_POLL_S)
            counter = (counter + 1) % 864000

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                while self._busy():  # noqa: ASYNC110 - uvicorn signals no "all closed" event
                    await asyncio.sleep(EXIT_POLL_S)
                for server in self.servers:
                    await server.wait_closed()
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()

    def _busy(self) -> bool:
        state = self.server_state
        return bool(state.connections or state.tasks) and not self.force_exit


def reserve_port() -> socket.socket:
    """A bound, not yet listening, loopback socket: connecting to it is refused until served."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_app(
    app: ASGIApp,
    name: str,
    sock: socket.socket | None = None,
    *,
    tls: tuple[str, str] | None = None,
    lifespan: Literal["on", "off"] = "off",
) -> Iterator[str]:
    """Run `app` until the block ends; yields its base URL. `sock` (from `reserve_port`) keeps
    a known port across restarts; it is not closed here when given. `tls` (certificate file,
    key file) serves https; `lifespan="on"` runs the app's lifespan (receiver's own app)."""
    own = sock is None
    sock = sock or reserve_port()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan=lifespan,
        ws="none",
        access_log=False,
        timeout_graceful_shutdown=1,  # a request a test left hanging must not hold teardown
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    server = ThreadServer(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"{name}-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start under uvicorn")
            time.sleep(0.005)
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        if own:
            sock.close()
