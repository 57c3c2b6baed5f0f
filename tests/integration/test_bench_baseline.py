"""The bench's baselines over real HTTP: the durable one commits each body before its 200."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from receiver.bench.baseline import create_baseline_app
from tests.mocks.serving import serve_app


def test_the_durable_baseline_answers_after_the_body_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    app = create_baseline_app("x-api-key", "s3cret", path)
    bodies = [f'{{"n": {n}}}'.encode() for n in range(40)]
    with serve_app(app, "durable-baseline") as base, httpx.Client(base_url=base) as client:

        def post(body: bytes) -> int:
            response = client.post("/any", content=body, headers={"x-api-key": "s3cret"})
            # Read back on a connection of our own: the 200 means it is committed.
            with sqlite3.connect(path) as conn:
                found = conn.execute("SELECT count(*) FROM bodies WHERE body = ?", (body,))
                assert found.fetchone() == (1,)
            return response.status_code

        with ThreadPoolExecutor(8) as pool:  # concurrent callers share transactions
            statuses = list(pool.map(post, bodies))
        refused = client.post("/any", content=b"{}", headers={"x-api-key": "wrong"})
        bad = client.post("/any", content=b"[1]", headers={"x-api-key": "s3cret"})
    assert statuses == [200] * 40
    assert (refused.status_code, bad.status_code) == (401, 400)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT count(*) FROM bodies").fetchone() == (40,)
