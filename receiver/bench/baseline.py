"""The bench baselines: a minimal Starlette app that reads the body, parses it and checks a key;
and the same app committing each body to SQLite through a minimal group-commit writer."""

from __future__ import annotations

import argparse
import asyncio
import hmac
import os
import queue
import sqlite3
import threading
from pathlib import Path

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Environment variables the bench sets for this process (secrets never go on command lines).
HEADER_ENV = "RECEIVER_BENCH_HEADER"
SECRET_ENV = "RECEIVER_BENCH_SECRET"  # noqa: S105 - the name of a variable, not a secret

_JSON = "application/json"


class DurableWriter:
    """The least a durable intake must do: every body pending in one SQLite transaction (WAL,
    synchronous=FULL) on one writer thread, each caller answered after the COMMIT holding it."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS bodies (seq INTEGER PRIMARY KEY, body BLOB)")
        self._queue: queue.SimpleQueue[tuple[bytes, asyncio.Future[None]]] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        threading.Thread(target=self._run, name="baseline-writer", daemon=True).start()

    async def write(self, body: bytes) -> None:
        """Return once `body` is committed (raise if its transaction failed)."""
        self._loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = self._loop.create_future()
        self._queue.put((body, future))
        await future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            error: Exception | None = None
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "INSERT INTO bodies (body) VALUES (?)", [(body,) for body, _ in batch]
                )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                error = exc
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            assert self._loop is not None  # noqa: S101 - set before anything was queued
            for _, future in batch:
                self._loop.call_soon_threadsafe(_settle, future, error)


def _settle(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def create_baseline_app(header: str, secret: str, durable: Path | None = None) -> Starlette:
    """POST anything: 401 unless `header` equals `secret`, 400 unless the body is a JSON object;
    with `durable`, the body is committed to that SQLite file before the 200 (503 if not)."""
    name = header.lower()
    expected = secret.encode()
    writer = DurableWriter(durable) if durable is not None else None

    async def intake(request: Request) -> Response:
        presented = request.headers.get(name, "").encode()
        if not hmac.compare_digest(presented, expected):
            return Response(b'{"error":"unauthorized"}', 401, media_type=_JSON)
        body = await request.body()
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            return Response(b'{"error":"bad_request"}', 400, media_type=_JSON)
        if writer is not None:
            try:
                await writer.write(body)
            except sqlite3.Error:
                return Response(b'{"error":"store_unavailable"}', 503, media_type=_JSON)
        return Response(orjson.dumps({"status": "accepted"}), media_type=_JSON)

    async def healthz(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=_JSON)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{path:path}", intake, methods=["POST"]),
        ]
    )


def main() -> None:
    """`python -m receiver.bench.baseline --port N [--sqlite FILE]`, header name and secret
    from the environment."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sqlite", type=Path, help="commit each body to this file first")
    args = parser.parse_args()
    app = create_baseline_app(
        os.environ.get(HEADER_ENV, "x-api-key"), os.environ[SECRET_ENV], args.sqlite
    )
    # uvicorn as `receiver serve` runs it (receiver/cli/serve.py), but with its stock httptools
    # protocol: serve's head cap and read deadlines (receiver/web/protocol.py) count as part
    # of receiver's cost.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
