"""`receiver events redeliver` through click's CliRunner, against a real SQLite file per test."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from receiver.store.base import PROCESS_JOB
from receiver.store.sqlite import SqliteStore
from tests.contract.support import make_event
from tests.fanout_seed import seed_deliveries
from tests.unit.cli_support import Cli, add, add_acme, assert_clean_error


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def seeded_event(cli: Cli) -> tuple[str, str, str]:
    """An event with a dead and a pending delivery to one subscription: (event id,
    subscription id, dead delivery id)."""
    assert add_acme(cli).exit_code == 0
    sub = str(add(cli, "--account", "acme")["id"])
    seeded = seed_deliveries(cli.db, sub)
    (event,) = cli.json("events", "list")["items"]
    return event["id"], sub, seeded.dead


def test_redeliver_requeues_finished_deliveries_and_counts_pending_ones(cli: Cli) -> None:
    event_id, _, dead = seeded_event(cli)
    counts = cli.json("events", "redeliver", event_id)
    assert counts == {"event_id": event_id, "requeued": 1, "already_pending": 1}
    shown = cli.json("deliveries", "show", dead)
    assert (shown["status"], shown["attempts_since_requeue"], shown["attempt_count"]) == (
        "pending",
        0,
        1,
    )
    assert [a["status_code"] for a in shown["attempts"]] == [500]  # the history is kept
    plain = cli.ok("events", "redeliver", event_id).stdout
    assert plain.strip() == f"requeued 0 deliveries of {event_id}; 2 already pending"


def test_redeliver_one_subscription(cli: Cli) -> None:
    event_id, sub, dead = seeded_event(cli)
    other = str(add(cli)["id"])  # created after the messages: nothing to redeliver
    assert cli.json("events", "redeliver", event_id, "--subscription", other) == {
        "event_id": event_id,
        "requeued": 0,
        "already_pending": 0,
    }
    assert cli.json("deliveries", "show", dead)["status"] == "dead"
    counts = cli.json("events", "redeliver", event_id, "--subscription", sub)
    assert (counts["requeued"], counts["already_pending"]) == (1, 1)


def test_redeliver_refusals_are_clean_errors(cli: Cli) -> None:
    event_id, sub, _ = seeded_event(cli)
    assert_clean_error(cli("events", "redeliver", "evt_nope"), 1, "no event evt_nope")
    unknown = cli("events", "redeliver", event_id, "--subscription", "sub_nope")
    assert_clean_error(unknown, 1, "no subscription sub_nope")
    cli.ok("subscriptions", "remove", sub)
    removed = cli("events", "redeliver", event_id, "--subscription", sub, "--json")
    assert_clean_error(removed, 1, "removed")

    async def record_unprocessed() -> str:
        store = SqliteStore(cli.db)
        await store.open()
        try:
            event = make_event(1)
            await store.record_inbound(event, PROCESS_JOB)
            return event.id
        finally:
            await store.close()

    waiting = asyncio.run(record_unprocessed())
    assert_clean_error(cli("events", "redeliver", waiting), 1, "published no messages")
