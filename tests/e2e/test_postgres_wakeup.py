"""Scale-out as deployed: `receiver serve --no-workers` and a separate `receiver worker` on
one PostgreSQL database; the worker is woken by LISTEN/NOTIFY, not by its poll interval, and
needs no signing key (deploy/ mounts none into it)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg
import pytest

from tests.conftest import POSTGRES_DSN, require_postgres
from tests.e2e.server import Server, shared_key, spawn_worker
from tests.e2e.test_pipeline import (
    MockStediState,
    mock_stedi,
    pipeline_env,
    post_835,
    set_up,
    token,
    wait_for_timeline,
)

pytestmark = pytest.mark.postgres
__all__ = ["mock_stedi"]  # the fixture, shared with the pipeline tests


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh database of its own, dropped afterwards."""
    require_postgres()
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    anyio.run(_admin, f'CREATE DATABASE "{name}"')
    parts = urlsplit(POSTGRES_DSN)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        anyio.run(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_separate_worker_is_woken_by_notify(
    tmp_path: Path, mock_stedi: tuple[str, MockStediState], database_url: str
) -> None:
    stedi_url, _ = mock_stedi
    # A 10-minute poll: only NOTIFY can make the worker fetch within the test's 10 s.
    env = pipeline_env(stedi_url, RECEIVER_DATABASE_URL=database_url, **shared_key(tmp_path))
    env["RECEIVER_WORKER_IDLE_MS"] = "600000"
    credentials = set_up(tmp_path, env)
    server = Server(tmp_path, tmp_path / "serve.log", env=env).start(workers=False)
    # In a directory of its own, with no key file to read: it issues and verifies no tokens.
    alone = tmp_path / "worker"
    alone.mkdir()
    worker_env = {k: v for k, v in env.items() if k != "RECEIVER_SIGNING_KEY_PATH"}
    worker = spawn_worker(alone, worker_env, tmp_path / "worker.log")
    try:
        log = tmp_path / "worker.log"
        deadline = time.monotonic() + 20
        while "worker.started" not in log.read_text():
            assert worker.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.05)
        time.sleep(0.3)  # its first (empty) pass is over: it now waits out the 10-minute poll
        post_835(server)
        wait_for_timeline(server, token(server, credentials), timeout=10.0)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
        server.kill()
    assert list(alone.iterdir()) == []  # nor did it make a key of its own
