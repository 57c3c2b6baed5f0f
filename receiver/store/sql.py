"""SQL written once with `?` placeholders and rendered per dialect; writes as statement lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def as_time(value: object) -> datetime:
    """A timestamp column as an aware UTC datetime, as either adapter's rows give it:
    PostgreSQL a datetime, SQLite the fixed-width text of a column its row factory leaves."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    raise TypeError("expected a timestamp")


@dataclass(frozen=True)
class Statement:
    """One statement of a write, `?`-style. A guard that changes no row ends the write:
    the row was no longer in the state the write was for, and nothing after it runs."""

    sql: str
    params: tuple[object, ...] = ()
    guard: bool = False


def numbered(sql: str) -> str:
    """`sql` with its `?` placeholders as PostgreSQL's `$1`, `$2`, ... in order; a `?` inside
    a quoted literal or identifier is left as it is."""
    out: list[str] = []
    n = 0
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(ch)
    return "".join(out)


def marks(n: int) -> str:
    """`?, ?, ...`: the placeholders of an `n`-value row."""
    return ", ".join("?" for _ in range(n))


class SqlCalls:
    """The one calling convention both adapters give the code written once over them:
    `?`-style SQL and a sequence of parameters (datetimes as datetimes)."""

    async def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        """Every row of one read, on a snapshot taken when it starts."""
        raise NotImplementedError

    async def _write(self, sql: str, params: Sequence[object] = ()) -> int:
        """One statement in its own transaction; the number of rows it changed."""
        raise NotImplementedError

    async def _run(self, statements: Sequence[Statement], *, wake: str | None = None) -> bool:
        """A guarded write's statements in one transaction (`run_statements` of the adapter);
        False if a guard changed no row. If it went through, `wake` ("jobs" or "deliveries")
        names the work other processes are told of, where the store can tell them."""
        raise NotImplementedError
