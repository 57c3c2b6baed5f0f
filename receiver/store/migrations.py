"""Numbered SQL migration files per dialect, read from the package."""

from __future__ import annotations

from importlib import resources


def load_migrations(dialect: str) -> list[tuple[str, str]]:
    """The numbered migrations of a dialect (`sqlite`, `postgres`), as (name, sql), in order."""
    folder = resources.files("receiver.store") / "sql" / dialect
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [(entry.name.removesuffix(".sql"), entry.read_text()) for entry in files]


def split_statements(sql: str) -> list[str]:
    """Split a migration file into statements, dropping `--` comment lines (our migrations
    hold no semicolons inside literals)."""
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [statement.strip() for statement in code.split(";") if statement.strip()]
