"""`receiver bench --outage`, one small run on the CI PostgreSQL: a mock Stedi answers 503 while
the events arrive, then recovers; serve and an extra worker drain the backlog, every event is
delivered to the sink exactly once, and the run's database is dropped afterwards."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from receiver.bench.outage import fresh_database, run_once
from receiver.bench.setup import BenchOptions
from tests.conftest import POSTGRES_DSN, require_postgres

pytestmark = pytest.mark.postgres

EVENTS = 30


async def _database_exists(url: str) -> bool:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def test_outage_backlog_drains_exactly_once(tmp_path: Path) -> None:
    require_postgres()
    with fresh_database(POSTGRES_DSN, tmp_path) as url:
        assert url.startswith("postgresql://")
        run = run_once(
            tmp_path / "run", url, EVENTS, 1, BenchOptions(concurrency=8), None, lambda _: None
        )
    assert not anyio.run(_database_exists, url)

    assert run["drained"] is True, run
    assert run["intake_errors"] == 0
    assert run["fetches_failed_in_outage"] > 0, run  # the outage was seen...
    assert run["fetches"].get("200") == EVENTS, run  # ...and each report fetched once after it
    assert run["exactly_once"] is True, run
    assert run["delivered"] == run["distinct_webhook_ids"] == run["deliveries"] == EVENTS
    assert run["duplicates"] == 0
    assert run["drain_s"] > 0
    assert run["events_per_s"] > 0
    assert run["jobs"].get("done") == EVENTS, run
    assert run["deliveries_by_state"].get("delivered") == EVENTS, run
