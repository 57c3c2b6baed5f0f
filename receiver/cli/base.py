"""Shared CLI plumbing: settings, a store opened for one command, JSON output, secrets.

Secrets are read from environment variables (named by `--*-env` options) or stdin, never from
arguments, so they stay out of shell history and process listings.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import orjson

from receiver.crypto import KekSet
from receiver.errors import ConfigError, ReceiverError
from receiver.logs import configure_logging
from receiver.settings import Settings, load_settings
from receiver.store.base import Store
from receiver.store.sealed import SealedStore
from receiver.store.sealing import build_sealed_store, load_encryption_keys

T = TypeVar("T")


def load_or_exit() -> Settings:
    """Settings from the environment (and `receiver --database`), or a one-line message and
    exit code 2."""
    context = click.get_current_context(silent=True)
    database = context.find_root().params.get("database") if context else None
    try:
        return load_settings(**({"database_url": database} if database else {}))
    except ConfigError as exc:
        raise click.UsageError(f"configuration: {exc.detail}") from None


def settings_with_logs() -> Settings:
    """The settings, with log lines on stderr (stdout is the command's answer): for commands
    whose use cases log."""
    settings = load_or_exit()
    configure_logging(settings.log_format, settings.log_level)
    return settings


def refuse_missing_database(settings: Settings) -> None:
    """Exit 2 when the SQLite file is not there: a command run in the wrong folder must not
    create an empty database and answer from it as if nothing had happened."""
    if settings.is_sqlite and not settings.sqlite_path.exists():
        raise click.UsageError(
            f"no database at {settings.sqlite_path.resolve()}: run this where the database is, "
            "name it with --database or RECEIVER_DATABASE_URL, or create one: `receiver migrate`"
        )


def with_store(action: Callable[[Store], Awaitable[T]], *, create: bool = False) -> T:
    """Open the configured store, run `action`, close it; store errors become messages. An
    SQLite file that does not exist is created only when `create` is set."""
    return with_sealed_store(action, create=create)


def with_sealed_store(action: Callable[[SealedStore], Awaitable[T]], *, create: bool = False) -> T:
    """`with_store` for the commands that manage the encryption itself (data keys, reencrypt):
    every CLI store is the configured store behind its encryption."""
    settings = load_or_exit()
    if not create:
        refuse_missing_database(settings)
    keks = encryption_keys_or_exit(settings)

    async def run() -> T:
        store = build_sealed_store(settings, keks)
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except ReceiverError as exc:
        raise click.ClickException(exc.detail) from None


def encryption_keys_or_exit(settings: Settings) -> KekSet:
    """The key-encryption keys, or a one-line message and exit code 2 (missing or unsafe)."""
    try:
        return load_encryption_keys(settings)
    except ConfigError as exc:
        raise click.UsageError(f"configuration: {exc.detail}") from None


def emit_json(value: Any) -> None:
    """Print one JSON document."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def read_secret_env(option: str, env_name: str | None) -> str | None:
    """The value of the environment variable an option names; '-' reads one line of stdin."""
    if env_name is None:
        return None
    value = sys.stdin.readline().strip() if env_name == "-" else os.environ.get(env_name, "")
    if not value:
        where = "stdin" if env_name == "-" else f"environment variable {env_name}"
        raise click.UsageError(f"{option}: {where} is empty or not set")
    return value
