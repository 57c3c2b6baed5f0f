"""Numbered SQL migration files per dialect, read from the package."""

from __future__ import annotations

import re
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
    hold no semicolons inside literals). A `;` inside a `$$`-quoted body (a PostgreSQL
    function) or between a `CREATE TRIGGER`'s `BEGIN` and `END` (SQLite) does not end one."""
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    statements: list[str] = []
    pending = ""
    for piece in code.split(";"):
        pending = f"{pending};{piece}" if pending else piece
        if not _inside_body(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return [statement for statement in statements if statement]


_TRIGGER_BODY = re.compile(r"^\s*CREATE\s+TRIGGER\b.*\bBEGIN\b", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"\bEND\s*$", re.IGNORECASE)


def _inside_body(text: str) -> bool:
    """Whether `text` stops inside a `$$` body or an unfinished trigger body."""
    if text.count("$$") % 2:
        return True
    return bool(_TRIGGER_BODY.match(text)) and not _BODY_END.search(text)
