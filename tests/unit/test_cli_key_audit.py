"""Key and Optum connection changes from the CLI leave audit rows (key ids, never keys); with
no database a key file change says it is not audited and succeeds; an audit row that cannot be
written is exit 1."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from receiver.auth.keys import load_key_file
from receiver.cli import main
from receiver.crypto import load_kek
from tests.unit.cli_support import Cli


def audit(cli: Cli) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = cli.json("audit", "list")["items"]
    return rows[::-1]  # oldest first


def test_key_changes_are_audited_by_key_id_only(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    signing = tmp_path / "signing.pem"
    cli.ok("keys", "generate", str(signing))
    (first,) = [e.key.kid for e in load_key_file(signing)]
    cli.ok("keys", "rotate", str(signing))
    (added,) = [e.key.kid for e in load_key_file(signing) if e.key.kid != first]
    other_kek = tmp_path / "other.key"
    cli.ok("keys", "create-kek", str(other_kek))
    created = load_kek(other_kek).current.kid
    cli.ok("keys", "rotate-kek")
    current_kek = load_kek(tmp_path / "receiver-encryption.key").current.kid
    cli.ok("keys", "rewrap")
    rotated = cli.json("keys", "rotate-data-key")["dek_id"]
    cli.ok("keys", "reencrypt")
    cli.ok("keys", "reencrypt", "--dry-run")  # changes nothing: no row

    rows = audit(cli)
    assert [(r["action"], r["target"]) for r in rows] == [
        ("signing_key.generate", first),
        ("signing_key.rotate", added),
        ("kek.create", created),
        ("kek.rotate", current_kek),
        ("data_keys.rewrap", current_kek),
        ("data_key.rotate", rotated),
        ("reencrypt", rotated),
    ]
    assert rows[1]["counts"] == {"dropped": 0}
    assert rows[4]["counts"] == {"rewrapped": 2}
    assert all(str(r["actor"]).startswith("cli:") for r in rows)
    shown = json.dumps(rows)
    pem_lines = [
        line
        for line in signing.read_text().splitlines()
        if line and not line.startswith(("#", "kid:", "activates_at:", "-----"))
    ]
    kek_lines = [
        line.split(":")[-1]
        for path in (other_kek, tmp_path / "receiver-encryption.key")
        for line in path.read_text().splitlines()
        if line.startswith("receiver-kek-v1:")
    ]
    assert len(pem_lines) >= 6
    assert len(kek_lines) == 3
    for material in pem_lines + kek_lines:
        assert material not in shown


def test_optum_connection_changes_are_audited(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    env = {"OPTUM_ID": "client-1", "OPTUM_SECRET": "s3cret-optum-value"}
    cli.ok(
        "optum", "add", "acme", "--tenant-id", "t-1",
        "--client-id-env", "OPTUM_ID", "--client-secret-env", "OPTUM_SECRET", env=env,
    )  # fmt: skip
    cli.ok("optum", "rotate", "acme", "--client-secret-env", "OPTUM_SECRET", env=env)
    cli.ok("optum", "remove", "acme", "--yes")
    rows = audit(cli)
    assert [(r["action"], r["target"], r["counts"]) for r in rows] == [
        ("optum.add", "acme", {}),
        ("optum.rotate", "acme", {"client_id": 0}),
        ("optum.remove", "acme", {}),
    ]
    assert "s3cret-optum-value" not in json.dumps(rows)


def test_with_no_database_a_key_change_says_it_is_not_audited(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    env = {"RECEIVER_DATABASE_URL": f"sqlite:///{db}", "RECEIVER_LOG_FORMAT": "json"}
    made = CliRunner().invoke(main, ["keys", "generate", str(tmp_path / "k.pem")], env=env)
    assert made.exit_code == 0, made.output
    assert made.stderr.count("\n") == 1
    assert "not in the audit trail" in made.stderr
    assert not db.exists()  # no database made just to hold the row


def test_an_audit_row_that_cannot_be_written_is_exit_1(tmp_path: Path) -> None:
    env = {
        "RECEIVER_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/nowhere",
        "RECEIVER_LOG_FORMAT": "json",
    }
    path = tmp_path / "k.pem"
    failed = CliRunner().invoke(main, ["keys", "generate", str(path)], env=env)
    assert failed.exit_code == 1, failed.output
    assert "the key change was made, but its audit row could not be written" in failed.output
    assert "Traceback" not in failed.output
    assert len(load_key_file(path)) == 1  # the change itself stands
