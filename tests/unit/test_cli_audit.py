"""`receiver audit list` and the audit rows the CLI's own actions and PHI reads leave, through
click's CliRunner against a real SQLite file per test."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.audit_seed import BODY_MARK, PCN, claim_told, dead_job
from tests.fanout_seed import seed_deliveries
from tests.integration.builders import on_store
from tests.unit.cli_support import INBOUND_SECRET, Cli, add, add_acme, assert_clean_error

ME = f"cli:{getpass.getuser()}"
OPTUM_SCOPE = "callbacks:coverage-discovery"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def rows(cli: Cli, *args: str) -> list[dict[str, Any]]:
    """Every audit row matching `args`, oldest first."""
    items: list[dict[str, Any]] = cli.json("audit", "list", "--limit", "500", *args)["items"]
    return items[::-1]


def test_every_cli_action_and_phi_read_leaves_a_row(cli: Cli) -> None:
    client = cli.json("clients", "create", "optum", "--scope", OPTUM_SCOPE)
    cli.ok("clients", "rotate", "optum")
    cli.ok("clients", "revoke", "optum", "--yes")
    assert add_acme(cli).exit_code == 0
    cli.ok("accounts", "rotate", "acme", "--api-key-env", "KEY", env={"KEY": "stedi-key-1"})
    sub = str(add(cli, "--account", "acme")["id"])
    seeded = seed_deliveries(cli.db, sub)
    (seeded_event,) = [e["id"] for e in cli.json("events", "list")["items"]]
    job_id = on_store(cli.db, dead_job)
    event_id = on_store(cli.db, claim_told)
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for args in (
        ("deliveries", "retry", seeded.dead),
        ("events", "redeliver", seeded_event),
        ("replay", "--since", since, "--status", "all", "--yes"),
        ("jobs", "retry", job_id),
        ("subscriptions", "rotate-secret", sub),
        ("subscriptions", "enable", sub),
        ("events", "show", event_id),
        ("claims", "show", PCN),
        ("subscriptions", "remove", sub, "--yes"),
        ("accounts", "remove", "acme", "--yes"),
    ):
        cli.ok(*args)

    found = rows(cli)
    # A claim read's target is the patient control number's blind index (an identifier
    # stays out of the trail, as it does out of the claim table).
    assert PCN not in str(found)
    assert [
        (r["action"], r["target"].partition(":")[0] if r["action"] == "claim.read" else r["target"])
        for r in found
    ] == [
        ("client.create", client["client_id"]),
        ("client.rotate", client["client_id"]),
        ("client.revoke", client["client_id"]),
        ("account.add", "acme"),
        ("account.rotate", "acme"),
        ("subscription.create", sub),
        ("delivery.retry", seeded.dead),
        ("event.redeliver", seeded_event),
        ("replay", None),  # its dry-run preview leaves none
        ("job.retry", job_id),
        ("subscription.rotate", sub),
        ("subscription.enable", sub),
        ("event.read", event_id),
        ("claim.read", "pcn-index"),
        ("subscription.remove", sub),
        ("account.remove", "acme"),
    ]
    assert {r["actor"] for r in found} == {ME}
    assert len({r["request_id"] for r in found}) == len(found)  # one per command
    assert found[0]["filter"] == {"name": "optum", "scopes": [OPTUM_SCOPE]}
    assert found[3]["filter"] == {"credentials": ["header"]}
    assert found[4]["filter"] == {"changed": ["api_key"]}
    assert found[8]["counts"] == {"requeued": 0, "already_pending": 2}  # both pending again
    assert found[8]["filter"]["statuses"] == ["delivered", "dead"]
    text = str(found)
    for secret in ("stedi-key-1", INBOUND_SECRET, "whsec_", BODY_MARK):
        assert secret not in text


def test_list_filters_plain_output_and_empty_listing(cli: Cli) -> None:
    assert cli.ok("audit", "list").stdout.strip() == "no audit rows match"
    cli.ok("clients", "create", "optum", "--scope", OPTUM_SCOPE)
    cli.ok("clients", "create", "ops", "--scope", "events:read")
    cli.ok("clients", "revoke", "ops", "--yes")
    assert [r["action"] for r in rows(cli, "--action", "client.create")] == ["client.create"] * 2
    assert len(rows(cli, "--actor", ME)) == 3
    assert rows(cli, "--actor", "cli:someone-else") == []
    assert rows(cli, "--until", "2000-01-01T00:00:00Z") == []
    assert len(rows(cli, "--since", "2000-01-01T00:00:00+02:00")) == 3
    plain = cli.ok("audit", "list", "--limit", "2").stdout.splitlines()
    assert len(plain) == 3
    assert plain[-1].startswith("more: --cursor ")
    assert plain[0].split("\t")[1:3] == [ME, "client.revoke"]
    page = cli.json("audit", "list", "--limit", "2", "--cursor", plain[-1].split()[-1])
    assert [r["action"] for r in page["items"]] == ["client.create"]


def test_bad_filters_are_usage_errors(cli: Cli) -> None:
    assert_clean_error(cli("audit", "list", "--since", "2026-12-01T00:00:00"), 2, "timezone")
    assert_clean_error(cli("audit", "list", "--action", "event.delete"), 2, "event.delete")
    assert_clean_error(cli("audit", "list", "--limit", "0"), 2)
