"""Integration fixtures: a live app under uvicorn per test (see `harness.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
