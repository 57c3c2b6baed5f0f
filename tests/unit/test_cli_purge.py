"""`receiver purge` through click's CliRunner against a real SQLite file: old settled events
lose their bodies and the file shrinks; pending and dead work keeps everything; audited."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from receiver.models import Document, InboundEvent, JobResult
from receiver.store.base import PROCESS_JOB
from receiver.store.sqlite import SqliteStore
from tests.contract.support import NOW, make_event
from tests.integration.builders import on_store
from tests.unit.cli_support import Cli, assert_clean_error

BODY_BYTES = 64 * 1024
SETTLED = 20


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


async def seed(store: SqliteStore) -> tuple[str, str]:
    """SETTLED old events whose jobs are done (each with a large body and an 835), one whose
    job is pending and one whose job is dead (all received in March 2026): the last two ids."""
    for n in range(1, SETTLED + 1):
        await store.record_inbound(make_event(n, body=os.urandom(BODY_BYTES)), PROCESS_JOB)
    for job in await store.claim_due_jobs(now=NOW, lease_seconds=30, limit=100):
        assert job.lease_until is not None
        result = JobResult(documents=(Document("835", f"txn-{job.id}", b"{}" * 500),))
        assert await store.complete_job(job.id, now=NOW, lease_until=job.lease_until, result=result)
    dead: InboundEvent = make_event(SETTLED + 1)
    await store.record_inbound(dead, PROCESS_JOB)
    (job,) = await store.claim_due_jobs(now=NOW, lease_seconds=30, limit=100)
    assert job.lease_until is not None
    assert await store.kill_job(job.id, now=NOW, lease_until=job.lease_until, error="no key")
    pending = make_event(SETTLED + 2)
    await store.record_inbound(pending, PROCESS_JOB)
    return pending.id, dead.id


def database_bytes(cli: Cli) -> int:
    return sum(p.stat().st_size for p in cli.db.parent.iterdir() if p.name.startswith("r.db"))


def lines(cli: Cli, *args: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in cli.ok("purge", *args, "--json").stdout.splitlines()]


def test_purge_keeps_pending_work_and_frees_space(cli: Cli) -> None:
    pending, dead = on_store(cli.db, seed)
    before = database_bytes(cli)
    (preview,) = lines(cli, "--older-than", "30d", "--dry-run")
    assert (preview["events"], preview["documents"]) == (SETTLED, SETTLED)
    assert int(str(preview["bytes"])) >= SETTLED * BODY_BYTES
    counted, done = lines(cli, "--older-than", "30d", "--yes")
    assert {k: v for k, v in counted.items() if k != "before"} == {
        k: v for k, v in preview.items() if k != "before"
    }
    assert (done["events"], done["documents"]) == (SETTLED, SETTLED)
    assert int(str(done["reclaimed_bytes"])) >= SETTLED * BODY_BYTES
    assert database_bytes(cli) <= before - SETTLED * BODY_BYTES

    kept = cli.ok("events", "show", pending).stdout
    assert json.loads(kept)["body"] != ""
    assert json.loads(cli.ok("events", "show", dead).stdout)["body"] != ""
    assert [j["status"] for j in cli.json("jobs", "list", "--event-id", pending)["items"]] == [
        "pending"
    ]
    settled = cli.json("events", "list", "--limit", "500")["items"]
    assert len(settled) == SETTLED + 2  # metadata kept
    (row,) = cli.json("audit", "list", "--action", "purge")["items"]  # dry runs leave none
    assert row["counts"]["events"] == SETTLED
    assert (lines(cli, "--older-than", "30d", "--yes")[1])["events"] == 0  # twice: nothing more


def test_purge_refusals(cli: Cli) -> None:
    assert_clean_error(cli("purge", "--older-than", "30"), 2, "30d")
    assert_clean_error(cli("purge", "--older-than", "30d", "--json"), 2, "--yes")
    assert_clean_error(cli("purge", "--older-than", "30d"), 1, "nothing changed")
