"""The `receiver` command through click's CliRunner, against a real SQLite file per test."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fanout_seed import fetch_account
from tests.unit.cli_support import (
    INBOUND_SECRET,
    Cli,
    add_acme,
    assert_clean_error,
)

OPTUM_SCOPE = "callbacks:coverage-discovery"
NEW_INBOUND_SECRET = "acme-rotated-secret-0b8e61c2d9f4a7"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


# --- clients ---------------------------------------------------------------------------------


def test_clients_create_prints_id_and_secret_once(cli: Cli) -> None:
    created = cli.json("clients", "create", "optum", "--scope", OPTUM_SCOPE)
    assert created["client_id"]
    assert created["name"] == "optum"
    assert created["scopes"] == [OPTUM_SCOPE]
    assert isinstance(created["client_secret"], str)
    assert len(created["client_secret"]) >= 43
    assert created["revoked_at"] is None


def test_clients_secret_is_not_stored_in_plain_text(cli: Cli) -> None:
    secret = cli.json("clients", "create", "optum", "--scope", OPTUM_SCOPE)["client_secret"]
    rows = cli.rows("clients")
    assert len(rows) == 1
    assert all(secret not in str(value) for value in rows[0])
    assert secret.encode() not in cli.db_bytes()


def test_clients_list_never_shows_the_secret(cli: Cli) -> None:
    created = cli.json("clients", "create", "optum", "--scope", OPTUM_SCOPE)
    listed = cli.ok("clients", "list", "--json").stdout
    assert created["client_secret"] not in listed
    items = json.loads(listed)
    assert [c["client_id"] for c in items] == [created["client_id"]]
    assert all("secret" not in key or key.endswith("_expires_at") for key in items[0])
    plain = cli.ok("clients", "list").stdout
    assert created["client_secret"] not in plain
    assert "optum" in plain


def test_clients_create_unknown_scope_is_a_usage_error(cli: Cli) -> None:
    result = cli("clients", "create", "optum", "--scope", "events:everything", "--json")
    assert_clean_error(result, 2, "events:everything")
    assert cli.json("clients", "list") == []


def test_clients_create_same_name_twice_fails_cleanly(cli: Cli) -> None:
    cli.ok("clients", "create", "optum", "--scope", OPTUM_SCOPE)
    result = cli("clients", "create", "optum", "--scope", OPTUM_SCOPE)
    assert result.exit_code != 0
    assert_clean_error(result, result.exit_code, "optum", "already exists")
    assert len(cli.json("clients", "list")) == 1


def test_clients_rotate_gives_a_new_secret_and_a_grace_period(cli: Cli) -> None:
    created = cli.json("clients", "create", "optum", "--scope", OPTUM_SCOPE)
    rotated = cli.json("clients", "rotate", "optum")
    assert rotated["client_id"] == created["client_id"]
    assert len(rotated["client_secret"]) >= 43
    assert rotated["client_secret"] != created["client_secret"]
    assert rotated["previous_secret_expires_at"]
    listed = cli.json("clients", "list")
    assert listed[0]["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]
    row_text = str(cli.rows("clients"))
    assert created["client_secret"] not in row_text
    assert rotated["client_secret"] not in row_text


def test_clients_rotate_grace_defaults_to_the_setting(cli: Cli) -> None:
    """Without --grace-hours the old secret lasts RECEIVER_CLIENT_SECRET_GRACE_SECONDS."""
    cli.ok("clients", "create", "optum", "--scope", OPTUM_SCOPE)
    before = datetime.now(UTC)
    rotated = cli.json(
        "clients", "rotate", "optum", env={"RECEIVER_CLIENT_SECRET_GRACE_SECONDS": "3600"}
    )
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"].replace("Z", "+00:00"))
    assert before + timedelta(minutes=59) < expires < before + timedelta(minutes=61)
    hours = cli.json("clients", "rotate", "optum", "--grace-hours", "2")
    expires = datetime.fromisoformat(hours["previous_secret_expires_at"].replace("Z", "+00:00"))
    assert before + timedelta(minutes=119) < expires < before + timedelta(minutes=121)


def test_clients_revoke_shows_revoked_at(cli: Cli) -> None:
    cli.ok("clients", "create", "optum", "--scope", OPTUM_SCOPE)
    assert "revoked optum" in cli.ok("clients", "revoke", "optum", "--yes").stdout
    listed = cli.json("clients", "list")
    assert listed[0]["revoked_at"]
    assert "revoked" in cli.ok("clients", "list").stdout


@pytest.mark.parametrize("args", [("revoke", "--yes"), ("rotate",), ("show",)])
def test_clients_unknown_name_is_a_clear_error(cli: Cli, args: tuple[str, ...]) -> None:
    assert_clean_error(cli("clients", args[0], "nobody", *args[1:]), 1, "no client named 'nobody'")


# --- accounts --------------------------------------------------------------------------------


def test_accounts_add_keeps_the_secret_out_of_output_and_database(cli: Cli) -> None:
    added = add_acme(cli)
    assert added.exit_code == 0, added.output
    assert "/webhooks/stedi/acme" in added.stdout
    assert INBOUND_SECRET not in added.output
    listed_text = cli.ok("accounts", "list", "--json").stdout
    assert INBOUND_SECRET not in listed_text
    listed = json.loads(listed_text)
    assert listed[0]["name"] == "acme"
    assert listed[0]["stedi_account_id"] == "X"
    assert listed[0]["credentials"] == [
        {"kind": "header", "name": "x-api-key", "expires_at": None, "valid": True}
    ]
    assert INBOUND_SECRET not in cli.ok("accounts", "list").stdout
    assert INBOUND_SECRET.encode() not in cli.db_bytes()


def test_accounts_add_json_output(cli: Cli) -> None:
    added = add_acme(cli, "--json")
    assert added.exit_code == 0, added.output
    body = json.loads(added.stdout)
    assert body["name"] == "acme"
    assert INBOUND_SECRET not in added.stdout


def test_accounts_add_missing_env_var_names_it(cli: Cli) -> None:
    result = cli(
        "accounts", "add", "acme", "--stedi-account-id", "X",
        "--inbound-header", "x-api-key", "--inbound-secret-env", "ACME_MISSING_VAR",
    )  # fmt: skip
    assert_clean_error(result, 2, "ACME_MISSING_VAR")
    assert cli.json("accounts", "list") == []


def test_accounts_add_destination_secret_must_be_whsec(cli: Cli) -> None:
    result = cli(
        "accounts", "add", "acme", "--stedi-account-id", "X",
        "--destination-secret-env", "ACME_WHSEC",
        env={"ACME_WHSEC": "not-a-webhook-secret"},
    )  # fmt: skip
    assert_clean_error(result, 2, "whsec_")
    assert "not-a-webhook-secret" not in result.output
    assert cli.json("accounts", "list") == []


def test_accounts_add_destination_secret(cli: Cli) -> None:
    result = cli(
        "accounts", "add", "acme", "--stedi-account-id", "X",
        "--destination-secret-env", "ACME_WHSEC",
        env={"ACME_WHSEC": WHSEC},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listed = cli.ok("accounts", "list", "--json").stdout
    assert WHSEC not in listed
    assert json.loads(listed)[0]["credentials"][0]["kind"] == "destination"


def test_accounts_add_reads_the_secret_from_stdin(cli: Cli) -> None:
    result = cli(
        "accounts", "add", "acme", "--stedi-account-id", "X",
        "--inbound-header", "x-api-key", "--inbound-secret-env", "-",
        input=INBOUND_SECRET + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert INBOUND_SECRET not in result.output
    listed = cli.json("accounts", "list")
    assert [c["name"] for c in listed[0]["credentials"]] == ["x-api-key"]
    assert INBOUND_SECRET.encode() not in cli.db_bytes()


def test_accounts_add_empty_stdin_is_a_usage_error(cli: Cli) -> None:
    result = cli(
        "accounts", "add", "acme", "--stedi-account-id", "X",
        "--inbound-header", "x-api-key", "--inbound-secret-env", "-",
        input="",
    )  # fmt: skip
    assert_clean_error(result, 2, "stdin")


def test_accounts_add_same_name_twice_fails_cleanly(cli: Cli) -> None:
    assert add_acme(cli).exit_code == 0
    result = add_acme(cli)
    assert result.exit_code != 0
    assert_clean_error(result, result.exit_code, "acme")


def test_accounts_rotate_keeps_old_credential_with_expiry(cli: Cli) -> None:
    assert add_acme(cli).exit_code == 0
    rotated = cli(
        "accounts", "rotate", "acme", "--inbound-header", "x-api-key",
        "--inbound-secret-env", "NEW",
        env={"NEW": NEW_INBOUND_SECRET},
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    assert NEW_INBOUND_SECRET not in rotated.output
    creds = cli.json("accounts", "list")[0]["credentials"]
    assert len(creds) == 2
    old, new = creds
    assert old["expires_at"] is not None
    assert old["valid"] is True
    assert new["expires_at"] is None
    assert {c["name"] for c in creds} == {"x-api-key"}
    data = cli.db_bytes()
    assert INBOUND_SECRET.encode() not in data
    assert NEW_INBOUND_SECRET.encode() not in data


def test_accounts_rotate_replaces_the_stedi_api_key(cli: Cli) -> None:
    assert add_acme(cli).exit_code == 0
    rotated = cli(
        "accounts", "rotate", "acme", "--api-key-env", "KEY", env={"KEY": "new-stedi-key-123"}
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    assert "new-stedi-key-123" not in rotated.output
    assert "new Stedi API key stored" in rotated.output
    (account,) = cli.json("accounts", "list")
    assert account["has_api_key"] is True
    assert len(account["credentials"]) == 1  # the inbound credential is untouched
    assert b"new-stedi-key-123" not in cli.db_bytes()  # sealed at rest (docs/encryption.md)
    assert fetch_account(cli.db, "acme").api_key == "new-stedi-key-123"  # what the worker sends


def test_accounts_rotate_needs_something_to_rotate(cli: Cli) -> None:
    assert add_acme(cli).exit_code == 0
    assert_clean_error(cli("accounts", "rotate", "acme"), 2, "--api-key-env")


def test_accounts_rotate_unknown_account(cli: Cli) -> None:
    result = cli(
        "accounts", "rotate", "nobody", "--inbound-header", "x-api-key",
        "--inbound-secret-env", "NEW",
        env={"NEW": NEW_INBOUND_SECRET},
    )  # fmt: skip
    assert_clean_error(result, 1, "nobody")


def test_accounts_remove_then_remove_again(cli: Cli) -> None:
    assert add_acme(cli).exit_code == 0
    assert "removed acme" in cli.ok("accounts", "remove", "acme", "--yes").stdout
    assert cli.json("accounts", "list") == []
    assert_clean_error(cli("accounts", "remove", "acme", "--yes"), 1, "no account named 'acme'")


def test_accounts_add_needs_a_credential(cli: Cli) -> None:
    assert_clean_error(cli("accounts", "add", "acme", "--stedi-account-id", "X"), 2)


# --- events, jobs, migrate, configuration ------------------------------------------------------


def test_events_list_on_an_empty_database(cli: Cli) -> None:
    result = cli.ok("events", "list")
    assert result.stdout == "no events\n"
    assert cli.json("events", "list") == {"items": [], "next_cursor": None}


def test_events_show_unknown(cli: Cli) -> None:
    assert_clean_error(cli("events", "show", "evt_nope"), 1, "no event")


def test_events_list_bad_filter_is_a_usage_error(cli: Cli) -> None:
    assert_clean_error(cli("events", "list", "--since", "yesterday"), 2, "since")


def test_jobs_list_on_an_empty_database(cli: Cli) -> None:
    assert cli.ok("jobs", "list").stdout == "no jobs\n"
    assert cli.json("jobs", "list") == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "args",
    [("migrate",), ("clients", "list"), ("events", "list"), ("accounts", "list")],
)
def test_bad_database_url_names_the_variable(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args, env={"RECEIVER_DATABASE_URL": "mysql://x"})
    assert_clean_error(result, 2, "RECEIVER_DATABASE_URL")


def test_migrate_reports_up_to_date(cli: Cli) -> None:
    assert "up to date" in cli.ok("migrate").stdout
    assert cli.db.exists()
    assert "up to date" in cli.ok("migrate").stdout


def test_python_dash_m_receiver_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for command in ("serve", "migrate", "clients", "accounts", "events", "jobs"):
        assert command in done.stdout


@pytest.mark.parametrize("args", [("events", "list"), ("jobs", "list")])
@pytest.mark.parametrize("limit", ["0", "501"])
def test_list_limit_out_of_range_is_a_clean_error(
    cli: Cli, args: tuple[str, ...], limit: str
) -> None:
    result = cli(*args, "--limit", limit)
    assert result.exit_code != 0
    assert_clean_error(result, result.exit_code, "limit")


def test_events_list_bad_cursor_is_a_clean_error(cli: Cli) -> None:
    result = cli("events", "list", "--cursor", "garbage")
    assert result.exit_code != 0
    assert_clean_error(result, result.exit_code, "cursor")


def test_version(cli: Cli) -> None:
    assert "version" in cli.ok("--version").stdout


def test_jobs_retry_requeues_a_dead_job_only(cli: Cli) -> None:
    """`jobs retry` puts a dead job back to pending; anything else is a clean error."""
    import asyncio
    from datetime import timedelta

    from receiver.store.base import PROCESS_JOB
    from receiver.store.sqlite import SqliteStore
    from tests.contract.support import T0, make_event

    async def make_dead_job() -> str:
        store = SqliteStore(cli.db)
        await store.open()
        try:
            await store.record_inbound(make_event(1), PROCESS_JOB)
            (job,) = await store.claim_due_jobs(
                now=T0 + timedelta(hours=1), lease_seconds=60, limit=1
            )
            assert job.lease_until is not None
            await store.kill_job(job.id, now=T0, lease_until=job.lease_until, error="HTTP 401")
            return job.id
        finally:
            await store.close()

    job_id = asyncio.run(make_dead_job())
    assert [j["status"] for j in cli.json("jobs", "list")["items"]] == ["dead"]
    assert cli.ok("jobs", "retry", job_id).stdout.strip() == f"requeued {job_id}"
    assert [j["status"] for j in cli.json("jobs", "list")["items"]] == ["pending"]
    assert_clean_error(cli("jobs", "retry", job_id), 1, "not dead")
