"""`receiver replay` through click's CliRunner, against a real SQLite file per test."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fanout_seed import Seeded, seed_deliveries
from tests.unit.cli_support import Cli, add, add_acme, assert_clean_error

HOUR_AGO = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def seeded(cli: Cli) -> tuple[str, Seeded]:
    """A subscription with a dead and a pending delivery, published just now."""
    assert add_acme(cli).exit_code == 0
    sub = str(add(cli, "--account", "acme")["id"])
    return sub, seed_deliveries(cli.db, sub)


def status_of(cli: Cli, delivery_id: str) -> str:
    return str(cli.json("deliveries", "show", delivery_id)["status"])


def test_dry_run_prints_the_counts_and_changes_nothing(cli: Cli) -> None:
    _, seed = seeded(cli)
    plain = cli.ok("replay", "--since", HOUR_AGO, "--dry-run").stdout
    assert plain.strip() == "1 deliveries would be requeued; 1 already pending (left alone)"
    assert cli.json("replay", "--since", HOUR_AGO, "--dry-run") == {
        "dry_run": True,
        "would_requeue": 1,
        "already_pending": 1,
        "over_limit": False,
    }
    assert status_of(cli, seed.dead) == "dead"


def test_yes_replays_after_printing_the_counts(cli: Cli) -> None:
    sub, seed = seeded(cli)
    out = cli.ok("replay", "--since", HOUR_AGO, "--subscription", sub, "--yes").stdout
    assert out.splitlines() == [
        "1 deliveries would be requeued; 1 already pending (left alone)",
        "requeued 1 deliveries; 1 already pending",
    ]
    shown = cli.json("deliveries", "show", seed.dead)
    assert (shown["status"], shown["attempts_since_requeue"]) == ("pending", 0)
    assert shown["attempt_count"] == len(shown["attempts"])
    assert [a["status_code"] for a in shown["attempts"]] == [500]  # the history is kept


def test_json_prints_the_counts_then_the_result(cli: Cli) -> None:
    _, seed = seeded(cli)
    out = cli.ok("replay", "--since", HOUR_AGO, "--status", "all", "--yes", "--json").stdout
    assert [json.loads(line) for line in out.splitlines()] == [
        {"dry_run": True, "would_requeue": 1, "already_pending": 1, "over_limit": False},
        {"requeued": 1, "already_pending": 1},
    ]
    assert status_of(cli, seed.dead) == "pending"
    prompting = cli("replay", "--since", HOUR_AGO, "--json")
    assert_clean_error(prompting, 2, "--json needs --yes or --dry-run")


def test_without_yes_and_no_terminal_it_refuses(cli: Cli) -> None:
    _, seed = seeded(cli)
    refused = cli("replay", "--since", HOUR_AGO, input="y\n")
    assert_clean_error(refused, 1, "1 deliveries would be requeued", "not a terminal")
    assert "pass --yes" in refused.output
    assert status_of(cli, seed.dead) == "dead"


def test_over_the_cap_is_refused(cli: Cli) -> None:
    sub, first = seeded(cli)
    second = seed_deliveries(cli.db, sub)
    env = {"RECEIVER_REPLAY_MAX_DELIVERIES": "1"}
    refused = cli("replay", "--since", HOUR_AGO, "--yes", env=env)
    assert_clean_error(refused, 1, "2 deliveries would be requeued", "2 is more than the 1")
    assert "narrow the window" in refused.output
    assert [status_of(cli, d) for d in (first.dead, second.dead)] == ["dead", "dead"]
    dry = cli("replay", "--since", HOUR_AGO, "--dry-run", "--json", env=env)
    assert dry.exit_code == 1
    assert json.loads(dry.stdout.splitlines()[0])["over_limit"] is True


def test_bad_options_are_clean_errors(cli: Cli) -> None:
    seeded(cli)
    naive = cli("replay", "--since", "2026-11-23T10:00:00", "--dry-run")
    assert_clean_error(naive, 2, "timezone")
    backwards = cli("replay", "--since", HOUR_AGO, "--until", HOUR_AGO, "--dry-run")
    assert_clean_error(backwards, 2, "later than since")
    assert_clean_error(cli("replay", "--since", HOUR_AGO, "--status", "pending"), 2, "pending")
    unknown = cli("replay", "--since", HOUR_AGO, "--subscription", "sub_nope", "--dry-run")
    assert_clean_error(unknown, 1, "no subscription sub_nope")
