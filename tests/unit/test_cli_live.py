"""`receiver subscriptions test` against the sink over real HTTP, and `receiver events tail`
following a real SQLite file from a real process."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from receiver.cli.tail import fresh
from receiver.demo.serving import serve_app
from receiver.demo.sink import create_sink
from receiver.store.base import PROCESS_JOB
from receiver.store.sqlite import SqliteStore
from tests.contract.support import make_event
from tests.unit.cli_support import Cli, assert_clean_error

INSECURE = {"RECEIVER_ALLOW_INSECURE_DESTINATIONS": "true"}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cli = Cli(tmp_path)
    cli.env.update(INSECURE)
    return cli


def test_subscriptions_test_sends_a_signed_test_message_and_creates_no_delivery(
    cli: Cli,
) -> None:
    app, state = create_sink(())
    with serve_app(app, "sink") as base:
        created = cli.json("subscriptions", "add", f"{base}/hook", "--type", "*")
        state.secrets = (str(created["secret"]),)
        shown = cli.json("subscriptions", "test", str(created["id"]))
        state.script.append(503)
        failed = cli("subscriptions", "test", str(created["id"]))
    assert (shown["status_code"], shown["ok"], shown["error"]) == (200, True, None)
    assert isinstance(shown["latency_ms"], int)
    assert shown["latency_ms"] >= 0
    first = state.received[0]
    assert first.webhook_id == shown["message_id"]
    assert first.verified_with == (created["secret"],)
    body = json.loads(first.body)
    assert (body["type"], body["data"]) == (
        "receiver.test",
        {"subscription_id": created["id"], "test": True},
    )
    Webhook(str(created["secret"])).verify(
        first.body,
        {
            "webhook-id": first.webhook_id,
            "webhook-timestamp": first.timestamp,
            "webhook-signature": first.signature,
        },
    )
    assert_clean_error(failed, 1, "status_code:  503", "not accepted")
    assert cli.rows("deliveries") == []
    assert cli.rows("delivery_attempts") == []


def test_subscriptions_test_text_and_refusals(cli: Cli) -> None:
    app, _state = create_sink(())
    with serve_app(app, "sink") as base:
        created = cli.json("subscriptions", "add", f"{base}/hook", "--type", "*")
        out = cli.ok("subscriptions", "test", str(created["id"])).stdout
        assert "status_code:  200" in out
        assert " ms" in out
        cli.ok("subscriptions", "remove", str(created["id"]), "--yes")
        assert_clean_error(cli("subscriptions", "test", str(created["id"])), 1, "removed")
    assert_clean_error(cli("subscriptions", "test", "sub_nope"), 1, "no subscription sub_nope")


def test_fresh_prints_each_event_once_oldest_first() -> None:
    t0 = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)
    older, newer = (
        _Event("evt_a", t0 + timedelta(seconds=1)),
        _Event("evt_b", t0 + timedelta(seconds=2)),
    )
    page = [newer, older]  # as the store lists them, newest first
    new, seen = fresh(page, {}, t0)
    assert new == [older, newer]
    again, seen = fresh(page, seen, t0)
    assert again == []
    _, forgotten = fresh([], seen, t0 + timedelta(seconds=3))
    assert forgotten == {}


@dataclass(frozen=True)
class _Event:
    id: str
    received_at: datetime


def test_events_tail_follows_new_events_and_stops_on_ctrl_c(cli: Cli) -> None:
    async def record(n: int) -> str:
        store = SqliteStore(cli.db)
        await store.open()
        try:
            event = make_event(n, received_at=datetime.now(UTC))
            await store.record_inbound(event, PROCESS_JOB)
            return event.id
        finally:
            await store.close()

    before = asyncio.run(record(1))
    # A child inherits an ignored SIGINT (a test run started in the background of a
    # non-interactive shell has one), and Python then never raises KeyboardInterrupt: give
    # the child the default Ctrl-C whatever this process was started with.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "receiver", "events", "tail", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **cli.env},
        )
    finally:
        signal.signal(signal.SIGINT, inherited)
    try:
        # The process takes a while to start on a loaded machine, and what it finds at its
        # first poll is not news: record one event a second until one is shown.
        assert proc.stdout is not None
        after: list[str] = []
        shown = None
        deadline = time.monotonic() + 30
        while shown is None and time.monotonic() < deadline:
            after.append(asyncio.run(record(len(after) + 2)))
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                shown = json.loads(proc.stdout.readline())
        assert shown is not None
        assert shown["id"] in after
        assert shown["id"] != before
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _rest, err = proc.communicate(timeout=15)
        finally:  # never leave the child and its pipes to the tests after this one
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert b"Traceback" not in err
