"""`receiver subscriptions ...` and `receiver deliveries ...` through click's CliRunner, against
a real SQLite file per test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.fanout_seed import disable_subscription, fetch_subscription, seed_deliveries
from tests.unit.cli_support import (
    URL,
    Cli,
    add,
    add_acme,
    assert_clean_error,
)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


# --- subscriptions ---------------------------------------------------------------------------


def test_add_json_shows_the_secret_once(cli: Cli) -> None:
    assert add_acme(cli).exit_code == 0
    created = add(cli, "--type", "claim.file.failed", "--account", "acme", "--description", "b")
    secret = created["secret"]
    assert isinstance(secret, str)
    assert secret.startswith("whsec_")
    Webhook(secret)
    assert created["types"] == ["claim.*", "claim.file.failed"]
    assert (created["account"], created["description"], created["status"]) == (
        "acme",
        "b",
        "active",
    )
    listed = cli.ok("subscriptions", "list", "--json").stdout
    assert secret not in listed
    assert [s["id"] for s in json.loads(listed)] == [created["id"]]
    plain = cli.ok("subscriptions", "list").stdout
    assert secret not in plain
    assert str(created["id"]) in plain
    assert "query-token-1" not in plain  # the URL's query string may carry a token
    shown = cli.ok("subscriptions", "show", str(created["id"]), "--json").stdout
    assert secret not in shown
    assert json.loads(shown)["id"] == created["id"]
    assert secret not in cli.ok("subscriptions", "show", str(created["id"])).stdout


def test_add_plain_prints_the_secret_with_a_warning(cli: Cli) -> None:
    out = cli.ok("subscriptions", "add", URL, "--type", "*").stdout
    secret_lines = [line for line in out.splitlines() if line.startswith("secret:")]
    assert len(secret_lines) == 1
    assert secret_lines[0].split()[1].startswith("whsec_")
    assert "store it now" in out


def test_add_refuses_bad_input_cleanly(cli: Cli) -> None:
    assert_clean_error(cli("subscriptions", "add", URL, "--type", "Claim.*"), 2, "Claim.*")
    assert_clean_error(cli("subscriptions", "add", URL), 2, "--type")
    assert_clean_error(
        cli("subscriptions", "add", URL, "--type", "*", "--account", "nosuch"), 1, "nosuch"
    )
    assert_clean_error(
        cli("subscriptions", "add", "http://93.184.216.34/h", "--type", "*"), 1, "https"
    )
    assert_clean_error(
        cli("subscriptions", "add", "https://10.0.0.1/h", "--type", "*"), 1, "non-public"
    )
    assert cli.json("subscriptions", "list", "--all") == []


def test_add_honours_allow_insecure_destinations(cli: Cli) -> None:
    env = {"RECEIVER_ALLOW_INSECURE_DESTINATIONS": "true"}
    result = cli.ok(
        "subscriptions", "add", "http://127.0.0.1:9/h", "--type", "*", "--json", env=env
    )
    assert json.loads(result.stdout)["url"] == "http://127.0.0.1:9/h"


def test_remove_then_list_all(cli: Cli) -> None:
    kept, gone = add(cli), add(cli)
    assert (
        f"removed {gone['id']}"
        in cli.ok("subscriptions", "remove", str(gone["id"]), "--yes").stdout
    )
    assert [s["id"] for s in cli.json("subscriptions", "list")] == [kept["id"]]
    every = cli.json("subscriptions", "list", "--all")
    assert [(s["id"], s["status"]) for s in every] == [
        (kept["id"], "active"),
        (gone["id"], "removed"),
    ]
    assert cli.json("subscriptions", "show", str(gone["id"]))["status"] == "removed"
    assert_clean_error(cli("subscriptions", "enable", str(gone["id"])), 1, "removed")
    assert_clean_error(cli("subscriptions", "rotate-secret", str(gone["id"])), 1, "removed")


def test_rotate_secret(cli: Cli) -> None:
    created = add(cli)
    env = {"RECEIVER_SUBSCRIPTION_SECRET_GRACE_SECONDS": "600"}
    rotated = cli.json("subscriptions", "rotate-secret", str(created["id"]), env=env)
    assert rotated["secret"] != created["secret"]
    assert str(rotated["secret"]).startswith("whsec_")
    assert rotated["previous_secret_expires_at"] is not None
    stored = fetch_subscription(cli.db, str(created["id"]))
    assert stored.previous_secret == created["secret"]
    assert stored.previous_expires_at is not None
    assert (stored.previous_expires_at - stored.updated_at).total_seconds() == 600
    plain = cli.ok("subscriptions", "rotate-secret", str(created["id"])).stdout
    assert "store it now" in plain
    assert "also signs until" in plain


def test_enable(cli: Cli) -> None:
    created = add(cli)
    disable_subscription(cli.db, str(created["id"]))
    assert cli.json("subscriptions", "show", str(created["id"]))["status"] == "disabled"
    cli.ok("subscriptions", "enable", str(created["id"]))
    shown = cli.json("subscriptions", "show", str(created["id"]))
    assert (shown["status"], shown["disabled_reason"]) == ("active", None)


def test_unknown_subscription_is_a_clean_error(cli: Cli) -> None:
    for command in (("show",), ("remove", "--yes"), ("rotate-secret",), ("enable",)):
        assert_clean_error(
            cli("subscriptions", command[0], "sub_nope", *command[1:]), 1, "sub_nope"
        )


# --- deliveries ------------------------------------------------------------------------------


def test_deliveries_list_show_retry(cli: Cli) -> None:
    assert add_acme(cli).exit_code == 0
    sub = add(cli, "--account", "acme")
    seeded = seed_deliveries(cli.db, str(sub["id"]))

    listed = cli.json("deliveries", "list")
    assert {d["id"] for d in listed["items"]} == {seeded.dead, seeded.pending}
    dead = cli.json("deliveries", "list", "--status", "dead")["items"]
    assert [d["id"] for d in dead] == [seeded.dead]
    by_sub = cli.json("deliveries", "list", "--subscription", str(sub["id"]), "--limit", "1")
    assert len(by_sub["items"]) == 1
    assert by_sub["next_cursor"]
    rest = cli.json(
        "deliveries", "list", "--subscription", str(sub["id"]), "--cursor", by_sub["next_cursor"]
    )
    assert len(rest["items"]) == 1
    typed = cli.json("deliveries", "list", "--type", "claim.remittance.received")["items"]
    assert [d["id"] for d in typed] == [seeded.pending]
    plain = cli.ok("deliveries", "list").stdout
    assert seeded.dead in plain
    assert seeded.pending in plain

    shown = cli.json("deliveries", "show", seeded.dead)
    assert shown["status"] == "dead"
    assert [a["status_code"] for a in shown["attempts"]] == [500]

    assert f"requeued {seeded.dead}" in cli.ok("deliveries", "retry", seeded.dead).stdout
    assert cli.json("deliveries", "show", seeded.dead)["status"] == "pending"
    assert_clean_error(cli("deliveries", "retry", seeded.dead), 1, "not dead")


def test_deliveries_bad_input_and_unknown_ids(cli: Cli) -> None:
    assert_clean_error(cli("deliveries", "show", "dlv_nope"), 1, "dlv_nope")
    assert_clean_error(cli("deliveries", "retry", "dlv_nope"), 1, "no such delivery")
    assert_clean_error(cli("deliveries", "list", "--status", "failed"), 2, "failed")
    assert_clean_error(cli("deliveries", "list", "--limit", "0"), 2, "--limit")
    assert_clean_error(cli("deliveries", "list", "--cursor", "junk"), 1, "cursor")
