"""The CLI for people: show commands, --json, one filter validation, exit codes (0 ok,
1 runtime, 2 usage), and confirmation before remove/revoke."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
from pathlib import Path

import click
import pytest

from receiver.cli import main
from receiver.store.base import PROCESS_JOB
from receiver.store.sqlite import SqliteStore
from tests.contract.support import make_event
from tests.unit.cli_support import Cli, add, add_acme, assert_clean_error


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def seed_event(cli: Cli) -> None:
    async def go() -> None:
        store = SqliteStore(cli.db)
        await store.open()
        try:
            await store.record_inbound(make_event(1), PROCESS_JOB)
        finally:
            await store.close()

    asyncio.run(go())


def test_events_and_jobs_list_are_aligned_tables_with_human_times(cli: Cli) -> None:
    seed_event(cli)
    header, row = cli.ok("events", "list").stdout.splitlines()
    assert header.split() == ["ID", "RECEIVED", "SOURCE", "TYPE", "ACCOUNT", "STATUS"]
    (event,) = cli.json("events", "list")["items"]
    assert row.startswith(f"{event['id']}  ")
    assert row.index("Z (") == header.index("RECEIVED") + len("2026-01-01 00:00:00")
    assert row.rstrip().endswith(event["status"])
    jobs_header, job_row = cli.ok("jobs", "list").stdout.splitlines()
    assert jobs_header.split()[:5] == ["ID", "EVENT", "KIND", "STATUS", "ATTEMPTS"]
    assert event["id"] in job_row


def test_jobs_show_as_text_and_json(cli: Cli) -> None:
    seed_event(cli)
    (job,) = cli.json("jobs", "list")["items"]
    assert cli.json("jobs", "show", job["id"]) == job
    shown = cli.ok("jobs", "show", job["id"]).stdout
    assert f"id:              {job['id']}" in shown
    assert "status:          pending" in shown
    assert_clean_error(cli("jobs", "show", "job_nope"), 1, "no job job_nope")


def test_clients_show_and_accounts_show(cli: Cli) -> None:
    cli.ok("clients", "create", "optum", "--scope", "events:read")
    shown = cli.json("clients", "show", "optum")
    assert (shown["name"], shown["scopes"], shown["revoked_at"]) == ("optum", ["events:read"], None)
    assert "client_secret" not in shown
    assert "ago)" in cli.ok("clients", "show", "optum").stdout
    assert add_acme(cli).exit_code == 0
    account = cli.json("accounts", "show", "acme")
    assert account["name"] == "acme"
    assert [c["kind"] for c in account["credentials"]] == ["header"]
    text = cli.ok("accounts", "show", "acme").stdout
    assert "acme-inbound-secret" not in text
    assert "CREDENTIAL" in text
    assert "header" in text
    assert_clean_error(cli("accounts", "show", "nobody"), 1, "no account named 'nobody'")


def test_claims_show_unknown_is_a_runtime_error_with_or_without_json(cli: Cli) -> None:
    for extra in ((), ("--json",)):
        assert_clean_error(cli("claims", "show", "PCN-NONE", *extra), 1, "no events")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("events", "list", "--status", "bogus"), "received"),
        (("jobs", "list", "--status", "bogus"), "pending"),
        (("deliveries", "list", "--status", "bogus"), "delivered"),
        (("events", "list", "--since", "2026-12-01T00:00:00"), "timezone"),
        (("events", "list", "--until", "tomorrow"), "timezone"),
        (("replay", "--since", "2026-12-01T00:00:00", "--dry-run"), "timezone"),
        (("events", "nope"), "No such command"),
    ],
)
def test_bad_filter_values_are_usage_errors(cli: Cli, args: tuple[str, ...], needle: str) -> None:
    assert_clean_error(cli(*args), 2, needle)


def test_times_with_a_timezone_are_accepted(cli: Cli) -> None:
    seed_event(cli)
    assert cli.json("events", "list", "--since", "2000-01-01T00:00:00Z")["items"]
    assert not cli.json("events", "list", "--since", "2999-01-01T05:00:00+05:00")["items"]


def test_remove_and_revoke_refuse_without_a_terminal_and_without_yes(cli: Cli) -> None:
    sub = add(cli)
    assert add_acme(cli).exit_code == 0
    cli.ok("clients", "create", "optum", "--scope", "events:read")
    for args in (
        ("subscriptions", "remove", str(sub["id"])),
        ("accounts", "remove", "acme"),
        ("clients", "revoke", "optum"),
    ):
        assert_clean_error(cli(*args), 1, "not a terminal: nothing changed", "--yes")
    assert cli.json("subscriptions", "show", str(sub["id"]))["status"] == "active"
    assert [a["name"] for a in cli.json("accounts", "list")] == ["acme"]
    assert cli.json("clients", "show", "optum")["revoked_at"] is None


def _on_a_terminal(cli: Cli, answer: bytes, *args: str) -> tuple[int, str]:
    """Run the real `receiver` with a pseudo-terminal for stdin and stdout; type `answer`."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "receiver", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, **cli.env},
    )
    os.close(follower)
    os.write(leader, answer)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    return proc.wait(timeout=30), out.decode(errors="replace")


def test_remove_asks_on_a_terminal(cli: Cli) -> None:
    sub = str(add(cli)["id"])
    code, out = _on_a_terminal(cli, b"n\n", "subscriptions", "remove", sub)
    assert (code, "Remove subscription" in out) == (1, True), out
    assert cli.json("subscriptions", "show", sub)["status"] == "active"
    code, out = _on_a_terminal(cli, b"y\n", "subscriptions", "remove", sub)
    assert (code, f"removed {sub}" in out) == (0, True), out
    assert cli.json("subscriptions", "show", sub)["status"] == "removed"


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


def test_every_command_that_reads_or_changes_the_store_takes_json() -> None:
    long_running = {("serve",), ("worker",), ("migrate",), ("demo",)}
    missing = [
        " ".join(path)
        for path, command in _commands(main)
        if path not in long_running and not any(p.name == "as_json" for p in command.params)
    ]
    assert missing == []


def test_changes_answer_in_json(cli: Cli) -> None:
    sub = str(add(cli)["id"])
    assert cli.json("subscriptions", "enable", sub) == {"enabled": sub}
    assert cli.json("subscriptions", "remove", sub, "--yes") == {"removed": sub}
    cli.ok("clients", "create", "optum", "--scope", "events:read")
    assert cli.json("clients", "revoke", "optum", "--yes") == {"revoked": "optum"}
    assert add_acme(cli).exit_code == 0
    assert cli.json("accounts", "remove", "acme", "--yes") == {"removed": "acme"}
