"""The CLI test runner: `receiver` commands in-process against a temporary database."""

from __future__ import annotations

import functools
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from receiver.cli import main

INBOUND_SECRET = "acme-inbound-secret-7f3c2a9d41b8e6"


def add_acme(cli: Cli, *extra: str, env: dict[str, str] | None = None) -> Result:
    return cli(
        "accounts", "add", "acme", "--stedi-account-id", "X",
        "--inbound-header", "x-api-key", "--inbound-secret-env", "ACME_IN", *extra,
        env={"ACME_IN": INBOUND_SECRET, **(env or {})},
    )  # fmt: skip


URL = "https://93.184.216.34/hooks?token=query-token-1"


def add(cli: Cli, *extra: str, url: str = URL) -> dict[str, object]:
    created: dict[str, object] = cli.json("subscriptions", "add", url, "--type", "claim.*", *extra)
    return created


def cli_env(db: Path) -> dict[str, str]:
    return {"RECEIVER_DATABASE_URL": f"sqlite:///{db}", "RECEIVER_LOG_FORMAT": "json"}


@functools.cache
def migrated() -> tempfile.TemporaryDirectory[str]:
    """A directory `receiver migrate` ran in, once per test run: the database and the
    key-encryption key it made beside it (kept, being cached, until the interpreter exits)."""
    made = tempfile.TemporaryDirectory(prefix="receiver-cli-")
    result = CliRunner().invoke(main, ["migrate"], env=cli_env(Path(made.name) / "r.db"))
    assert result.exit_code == 0, (result.output, result.exception)
    return made


class Cli:
    """Runs `receiver ...` in-process with RECEIVER_DATABASE_URL pointing at a tmp file."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "r.db"
        self.env = cli_env(self.db)
        self.runner = CliRunner()
        # Commands other than migrate refuse to create the database: each test starts from a
        # copy (modes kept) of what one `receiver migrate` made, rather than migrating again.
        for made in Path(migrated().name).iterdir():
            shutil.copy2(made, tmp_path / made.name)

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> Result:
        return self.runner.invoke(main, list(args), env={**self.env, **(env or {})}, input=input)

    def ok(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        result = self(*args, env=env, input=input)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def json(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", env=env, input=input).stdout)

    def db_bytes(self) -> bytes:
        """Every byte SQLite keeps for the database: the file and any WAL/journal beside it."""
        return b"".join(
            p.read_bytes() for p in self.db.parent.iterdir() if p.name.startswith(self.db.name)
        )

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608


def assert_clean_error(result: Result, code: int, *needles: str) -> None:
    """A non-zero exit with a message (no traceback, no unhandled exception)."""
    assert result.exit_code == code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output
