"""`receiver keys generate|rotate|list` through click's CliRunner, on key files in a tmp dir."""

from __future__ import annotations

import json
import stat
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner, Result

from receiver.auth.keys import load_key_file
from receiver.cli import main
from receiver.cli.render import human_time
from receiver.clock import utc_now

# No database there: these key file commands note that their change is not audited.
NO_DATABASE = "sqlite:////nonexistent/receiver-keys-test.db"


def keys(*args: str, **env: str) -> Result:
    base = {"RECEIVER_LOG_FORMAT": "json", "RECEIVER_DATABASE_URL": NO_DATABASE}
    return CliRunner().invoke(main, ["keys", *args], env={**base, **env})


def test_generate_rotate_list_show_kids_and_windows_never_keys(tmp_path: Path) -> None:
    path = tmp_path / "signing-keys.pem"
    generated = keys("generate", str(path), "--json")
    assert generated.exit_code == 0, generated.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (first,) = json.loads(generated.stdout)["keys"]
    assert first["state"] == "signing"
    assert first["signs_from"] is None

    rotated = keys("rotate", "--json", RECEIVER_SIGNING_KEY_PATH=str(path))
    assert rotated.exit_code == 0, rotated.output
    old, new = json.loads(rotated.stdout)["keys"]
    assert (old["kid"], old["state"], new["state"]) == (first["kid"], "signing", "pending")
    assert old["signs_until"] == new["signs_from"]  # the switch, 900 s from now by default
    assert [e.key.kid for e in load_key_file(path)] == [old["kid"], new["kid"]]

    listed = keys("list", str(path))
    assert listed.exit_code == 0
    switch = human_time(datetime.fromisoformat(new["signs_from"]), utc_now())
    (pending,) = [line for line in listed.stdout.splitlines() if line.startswith(new["kid"])]
    assert f"{new['kid']}  pending  {switch.split(' (')[0]}" in pending
    for result in (generated, rotated, listed):
        assert "PRIVATE KEY" not in result.output


def test_generate_never_replaces_a_key_file(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    assert keys("generate", str(path)).exit_code == 0
    before = path.read_bytes()
    again = keys("generate", str(path))
    assert again.exit_code == 1
    assert "exists; add a key to it with `receiver keys rotate" in again.output
    assert path.read_bytes() == before


def test_rotate_waits_for_the_pending_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    keys("generate", str(path))
    assert keys("rotate", str(path)).exit_code == 0
    again = keys("rotate", str(path))
    assert again.exit_code == 1
    assert "is still waiting to sign" in again.output
    assert len(load_key_file(path)) == 2


def test_a_zero_delay_rotation_signs_at_once(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    keys("generate", str(path))
    result = keys("rotate", str(path), "--json", RECEIVER_SIGNING_KEY_ROTATION_DELAY_SECONDS="0")
    assert [k["state"] for k in json.loads(result.stdout)["keys"]] == ["verifying", "signing"]


def test_on_postgresql_the_path_must_be_given(tmp_path: Path) -> None:
    result = keys("list", RECEIVER_DATABASE_URL="postgresql://db.internal/receiver")
    assert result.exit_code == 2
    assert "give the key file's PATH or set RECEIVER_SIGNING_KEY_PATH" in result.output


def test_a_missing_or_unsafe_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = keys("list", str(tmp_path / "none.pem"))
    assert missing.exit_code == 1
    assert "cannot read signing key file" in missing.output
    path = tmp_path / "k.pem"
    keys("generate", str(path))
    path.chmod(0o644)
    unsafe = keys("rotate", str(path))
    assert unsafe.exit_code == 1
    assert "chmod 600" in unsafe.output
