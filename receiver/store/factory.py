"""Choose the Store adapter a database URL names."""

from __future__ import annotations

from receiver.settings import Settings
from receiver.store.base import Store
from receiver.store.sqlite import SqliteStore


def build_store(settings: Settings) -> Store:
    """SqliteStore for `sqlite:` URLs, PostgresStore for `postgresql:` ones (not yet opened)."""
    if settings.is_sqlite:
        return SqliteStore(
            settings.sqlite_path,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            synchronous=settings.sqlite_synchronous,
            group_commit_ms=settings.sqlite_group_commit_ms,
        )
    from receiver.store.postgres import PostgresStore

    return PostgresStore(settings.database_url)
