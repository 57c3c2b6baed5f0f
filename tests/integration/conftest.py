"""Integration fixtures: a live app under uvicorn per test (see `harness.py`)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from receiver.logs import configure_logging
from tests.integration.harness import LiveServer, start_live_server

StartServer = Callable[..., LiveServer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start live servers (each in a directory of its own); all are stopped at teardown."""
    started: list[LiveServer] = []

    def start(**kwargs: object) -> LiveServer:
        directory = tmp_path / f"server{len(started)}"
        directory.mkdir()
        server = start_live_server(directory, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def server(start_server: StartServer) -> LiveServer:
    """A live app on a fresh seeded SQLite file, real clock, default settings."""
    return start_server()


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """structlog writing JSON at debug level into a buffer; the previous set-up restored."""
    saved = structlog.get_config()
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    try:
        yield stream
    finally:
        structlog.configure(**saved)
