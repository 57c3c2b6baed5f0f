"""Web replicas on PostgreSQL as deployed: two `receiver serve --no-workers` processes sharing
one key file accept each other's tokens and both pick up a rotation without a restart; a serve
on PostgreSQL without a shared key refuses to start."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import POSTGRES_DSN
from tests.e2e.server import Server, clean_env, free_port, run_cli_json, shared_key
from tests.e2e.test_postgres_wakeup import database_url

__all__ = ["database_url"]  # the fixture, shared with the wake-up test

PUBLIC_URL = "https://receiver.example.test"  # what a load balancer in front would be


def kids(server: Server) -> list[str]:
    return [key["kid"] for key in httpx.get(server.url + "/.well-known/jwks.json").json()["keys"]]


def take_token(server: Server, client: dict[str, str]) -> str:
    got = httpx.post(
        server.url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert got.status_code == 200, got.text
    return str(got.json()["access_token"])


def events_status(server: Server, token: str) -> int:
    got = httpx.get(server.url + "/events", headers={"authorization": f"Bearer {token}"})
    return got.status_code


@pytest.mark.postgres
def test_replicas_sharing_a_key_file_accept_each_others_tokens_and_rotations(
    tmp_path: Path, database_url: str
) -> None:
    env = clean_env(
        RECEIVER_DATABASE_URL=database_url,
        RECEIVER_PUBLIC_URL=PUBLIC_URL,
        RECEIVER_SIGNING_KEY_RELOAD_SECONDS="1",
        **shared_key(tmp_path),
    )
    client = run_cli_json(tmp_path, "clients", "create", "ops", "--scope", "events:read", env=env)
    # Each in a directory of its own, as on machines of their own: only the key file is shared.
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = Server(tmp_path / "one", tmp_path / "one.log", env=env).start(workers=False)
    two = Server(tmp_path / "two", tmp_path / "two.log", env=env).start(workers=False)
    try:
        (kid,) = kids(one)
        assert kids(two) == [kid]
        from_one, from_two = take_token(one, client), take_token(two, client)
        assert events_status(two, from_one) == 200
        assert events_status(one, from_two) == 200

        # A rotation with no delay, to see it reach both replicas without a restart.
        rotate_env = {**env, "RECEIVER_SIGNING_KEY_ROTATION_DELAY_SECONDS": "0"}
        listed = run_cli_json(tmp_path, "keys", "rotate", env=rotate_env)
        new_kid = listed["keys"][1]["kid"]
        deadline = time.monotonic() + 10
        while not (kids(one) == kids(two) == [kid, new_kid]):
            assert time.monotonic() < deadline, (kids(one), kids(two))
            time.sleep(0.1)
        rotated = take_token(two, client)
        assert jwt.get_unverified_header(rotated)["kid"] == new_kid
        assert events_status(one, rotated) == 200
        assert events_status(one, from_two) == 200  # the old key verifies until expiry
    finally:
        one.kill()
        two.kill()
    for server in (one, two):
        assert "PRIVATE KEY" not in server.log_text()
        assert list(server.cwd.iterdir()) == []  # no key of its own


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (False, ["RECEIVER_SIGNING_KEY_PATH is not set", "receiver keys generate PATH"]),
        (True, ["absent/keys.pem does not exist", "`receiver keys generate /"]),
    ],
)
def test_serve_on_postgresql_without_a_shared_key_refuses_to_start(
    tmp_path: Path, configured: bool, expected: list[str]
) -> None:
    """Checked before the database is opened: no server needs to be running."""
    key_setting = {"RECEIVER_SIGNING_KEY_PATH": str(tmp_path / "absent" / "keys.pem")}
    done = subprocess.run(
        [sys.executable, "-m", "receiver", "serve", "--no-workers", "--port", str(free_port())],
        cwd=tmp_path,
        env=clean_env(RECEIVER_DATABASE_URL=POSTGRES_DSN, **(key_setting if configured else {})),
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    for text in expected:
        assert text in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # and no key of its own was written
