"""`receiver events reprocess` and `receiver jobs reprocess` through click's CliRunner,
against a real SQLite file per test."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.audit_seed import claim_told, dead_job
from tests.integration.builders import on_store
from tests.unit.cli_support import Cli, add_acme, assert_clean_error


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def an_hour_ago() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def test_events_reprocess_queues_once_while_owed(cli: Cli) -> None:
    event_id = on_store(cli.db, claim_told)
    assert cli.json("events", "reprocess", event_id) == {"event_id": event_id, "queued": True}
    again = cli.ok("events", "reprocess", event_id).stdout.strip()
    assert again == f"{event_id} is already queued for reprocessing"
    jobs = cli.json("jobs", "list", "--event-id", event_id)["items"]
    assert sorted((j["kind"], j["status"]) for j in jobs) == [
        ("process", "done"),
        ("reprocess", "pending"),
    ]
    assert_clean_error(cli("events", "reprocess", "evt_nope"), 1, "no such event")


def test_jobs_reprocess_counts_first_then_revives_once(cli: Cli) -> None:
    assert add_acme(cli).exit_code == 0
    dead = [on_store(cli.db, dead_job) for _ in range(2)]
    since = an_hour_ago()
    preview = cli.ok("jobs", "reprocess", "--since", since, "--dry-run").stdout
    assert preview.strip() == "2 dead jobs would be queued again"
    assert {j["id"] for j in cli.json("jobs", "list", "--status", "dead")["items"]} == set(dead)
    lines = cli.ok("jobs", "reprocess", "--since", since, "--account", "acme", "--yes", "--json")
    assert [json.loads(line) for line in lines.stdout.splitlines()] == [
        {"dry_run": True, "would_revive": 2},
        {"revived": 2},
    ]
    assert lines.stderr == ""  # --json: stdout is the answer, nothing else anywhere
    assert cli.json("jobs", "list", "--status", "dead")["items"] == []
    twice = cli.ok("jobs", "reprocess", "--since", since, "--yes").stdout.splitlines()
    assert twice == ["0 dead jobs would be queued again", "queued 0 dead jobs again"]
    audit = cli.json("audit", "list", "--action", "jobs.reprocess")["items"]
    assert [row["counts"] for row in audit] == [{"revived": 0}, {"revived": 2}]
    assert audit[1]["filter"]["account"] == "acme"


def test_jobs_reprocess_refusals(cli: Cli) -> None:
    on_store(cli.db, dead_job)
    since = an_hour_ago()
    assert_clean_error(cli("jobs", "reprocess", "--since", "2026-12-01T00:00:00"), 2, "timezone")
    assert_clean_error(cli("jobs", "reprocess", "--since", since, "--json"), 2, "--yes")
    refused = cli("jobs", "reprocess", "--since", since)  # no terminal, no --yes
    assert_clean_error(refused, 1, "nothing changed")
    assert len(cli.json("jobs", "list", "--status", "dead")["items"]) == 1


def test_jobs_reprocess_reports_progress_on_stderr_when_piped(cli: Cli) -> None:
    for _ in range(2):
        on_store(cli.db, dead_job)
    done = cli.ok("jobs", "reprocess", "--since", an_hour_ago(), "--yes")
    assert done.stdout.splitlines() == [
        "2 dead jobs would be queued again",
        "queued 2 dead jobs again",
    ]
    assert done.stderr.splitlines() == [
        "queueing dead jobs again: 0/2",
        "queueing dead jobs again: 2/2",
    ]


def test_a_job_kind_outside_the_list_is_refused_in_the_apis_words(cli: Cli) -> None:
    since = an_hour_ago()
    refused = cli("jobs", "reprocess", "--since", since, "--kind", "bogus", "--dry-run")
    assert_clean_error(refused, 2, "kind must be one of process, reprocess")
    assert_clean_error(cli("jobs", "list", "--kind", "bogus"), 2, "process, reprocess")
    assert cli.json("jobs", "list", "--kind", "reprocess")["items"] == []
