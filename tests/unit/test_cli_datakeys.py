"""`receiver keys create-kek|rotate-kek|rewrap|rotate-data-key|data-keys|reencrypt` through
CliRunner on a real SQLite file; a wrong or missing KEK is a clear error, and loses nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from receiver.cli import main
from receiver.crypto import create_kek, load_kek
from tests.fanout_seed import fetch_account
from tests.unit.cli_support import Cli, add_acme

API_KEY = "stedi-key-canary-9d2e"


def with_api_key(cli: Cli) -> None:
    assert add_acme(cli).exit_code == 0
    cli.ok("accounts", "rotate", "acme", "--api-key-env", "KEY", env={"KEY": API_KEY})


def test_create_kek_is_private_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    made = CliRunner().invoke(main, ["keys", "create-kek", str(path)])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kid = load_kek(path).current.kid
    assert kid in made.output
    assert path.read_text().split(":")[-1].strip() not in made.output  # never the key
    again = CliRunner().invoke(main, ["keys", "create-kek", str(path)])
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert load_kek(path).current.kid == kid


def test_rotate_data_key_then_reencrypt_moves_every_row(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    with_api_key(cli)
    (first,) = [k for k in cli.json("keys", "data-keys")["data_keys"] if k["purpose"] == "data"]
    assert first["current"] is True

    rotated = cli.ok("keys", "rotate-data-key")
    listed = cli.json("keys", "data-keys")["data_keys"]
    current = [k["id"] for k in listed if k["current"]]
    assert current != [first["id"]]
    assert current[0] in rotated.stdout

    dry = cli.json("keys", "reencrypt", "--dry-run")
    counts = {c["column"]: c for c in dry["columns"]}
    assert counts["account_secrets"]["stale"] == 1
    assert all(c["rewritten"] == 0 for c in dry["columns"])
    done = cli.ok("keys", "reencrypt", "--batch-size", "1")
    assert "account_secrets: 1 scanned, 1 to rewrite, 1 rewritten" in done.stderr
    assert "1 values rewritten" in done.stdout
    again = cli.json("keys", "reencrypt", "--dry-run")
    assert sum(c["stale"] for c in again["columns"]) == 0
    assert fetch_account(cli.db, "acme").api_key == API_KEY
    assert API_KEY.encode() not in cli.db_bytes()


def test_kek_rotation_rewraps_and_the_old_line_can_then_go(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    with_api_key(cli)
    kek_path = tmp_path / "receiver-encryption.key"
    old = load_kek(kek_path).current.kid
    cli.ok("keys", "rotate-kek")
    new = load_kek(kek_path).current.kid
    assert new != old
    rewrapped = cli.ok("keys", "rewrap")
    assert "rewrapped 2 data keys" in rewrapped.stdout
    assert {k["kek_id"] for k in cli.json("keys", "data-keys")["data_keys"]} == {new}
    # Drop the old line: everything still opens with the new KEK alone.
    lines = kek_path.read_text().splitlines()
    kek_path.write_text("\n".join(line for line in lines if f":{old}:" not in line) + "\n")
    listed = cli.json("accounts", "list")
    assert listed[0]["has_api_key"] is True
    assert fetch_account(cli.db, "acme").api_key == API_KEY


def test_a_wrong_kek_is_a_clear_error_and_the_right_one_reads_again(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    with_api_key(cli)
    kek_path = tmp_path / "receiver-encryption.key"
    right = kek_path.read_bytes()
    right_kid = load_kek(kek_path).current.kid
    kek_path.unlink()
    create_kek(kek_path)  # someone mounted another key file
    before = cli.db_bytes()
    refused = cli("accounts", "list")
    assert refused.exit_code == 1
    assert f"key-encryption key {right_kid}, which is not loaded" in refused.output
    assert "Traceback" not in refused.output
    assert cli.db_bytes() == before  # nothing written, nothing deleted

    kek_path.write_bytes(right)
    assert cli.json("accounts", "list")[0]["has_api_key"] is True


def test_a_kek_file_others_can_read_is_refused_with_exit_2(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    kek_path = tmp_path / "receiver-encryption.key"
    kek_path.chmod(0o644)
    refused = cli("accounts", "list")
    assert refused.exit_code == 2
    assert "accessible by group or others" in refused.output
    assert "chmod 600" in refused.output


def test_postgres_needs_the_setting_exit_2(tmp_path: Path) -> None:
    env = {"RECEIVER_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}
    for argv in (["migrate"], ["worker"], ["keys", "data-keys"]):
        refused = CliRunner().invoke(main, argv, env=env)
        assert refused.exit_code == 2, (argv, refused.output)
        assert "RECEIVER_ENCRYPTION_KEY_PATH is not set" in refused.output
    env["RECEIVER_ENCRYPTION_KEY_PATH"] = str(tmp_path / "missing")
    refused = CliRunner().invoke(main, ["migrate"], env=env)
    assert refused.exit_code == 2
    assert "does not exist" in refused.output


def test_reencrypt_json_counts(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    out = cli.json("keys", "reencrypt")
    assert out["dry_run"] is False
    assert [c["column"] for c in out["columns"]][-2:] == ["account_secrets", "optum_secrets"]
    assert json.dumps(out).count('"stale": 0') == len(out["columns"])
