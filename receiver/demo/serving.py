"""Serve an ASGI app under uvicorn in a thread on a loopback socket (tests, the demo)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from starlette.types import ASGIApp


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
    server = uvicorn.Server(config)
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
