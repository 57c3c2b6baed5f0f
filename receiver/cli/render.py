"""How every CLI listing looks: one aligned table with headers (rich on a terminal, plain
aligned text otherwise), a clear line when it is empty, human times, and progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def human_time(moment: datetime | None, now: datetime) -> str:
    """'2026-12-02 19:01:15Z (3 min ago)'; '-' for no time."""
    if moment is None:
        return "-"
    at = moment.astimezone(UTC)
    return f"{at:%Y-%m-%d %H:%M:%S}Z ({_relative((now - at).total_seconds())})"


def _relative(seconds: float) -> str:
    ahead = seconds < 0
    amount = abs(seconds)
    if amount < 60:
        span = f"{int(amount)} s"
    elif amount < 3600:
        span = f"{int(amount // 60)} min"
    elif amount < 86400:
        span = f"{int(amount // 3600)} h"
    else:
        span = f"{int(amount // 86400)} d"
    return f"in {span}" if ahead else f"{span} ago"


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a table aligned with spaces, headers first: one row a line, so it greps."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(headers), *rows]
    ]


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str) -> None:
    """Print a listing: a rich table on a terminal, aligned plain text otherwise, or `empty`
    (e.g. 'no events') when there is no row."""
    cells = [["-" if c is None or c == "" else str(c) for c in row] for row in rows]
    if not cells:
        click.echo(empty)
        return
    if not sys.stdout.isatty():
        for line in plain_table(headers, cells):
            click.echo(line)
        return
    shown = Table(box=box.SIMPLE_HEAD, header_style="bold")
    for header in headers:
        shown.add_column(header, overflow="fold")
    for row in cells:
        shown.add_row(*row)
    Console(highlight=False).print(shown)


def fields(values: Mapping[str, Any]) -> None:
    """One 'key: value' line per field, the values aligned."""
    width = max((len(k) for k in values), default=0) + 1
    for key, value in values.items():
        shown = " ".join(str(v) for v in value) if isinstance(value, list) else value
        click.echo(f"{key + ':':{width}} {'-' if shown is None or shown == '' else shown}")


def confirm(question: str, *, yes: bool, refusal: str) -> None:
    """Ask before a change that cannot be undone; without a terminal and without --yes, refuse
    (exit 1, nothing changed)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.ClickException(f"not a terminal: nothing changed; {refusal}")
    click.confirm(question, abort=True)


@contextmanager
def progress(label: str, *, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A (done, total) callback showing a long command's progress on stderr: a rich bar on a
    terminal, one plain `label: done/total` line per step otherwise (so logs keep it), nothing
    when `quiet` (with --json, stdout is the answer and stderr stays clean)."""
    if quiet:
        yield lambda done, total: None
        return
    if not sys.stderr.isatty():

        def line(done: int, total: int) -> None:
            if total:
                click.echo(f"{label}: {done}/{total}", err=True)

        yield line
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as shown:
        task = shown.add_task(label, total=None)
        yield lambda done, total: shown.update(task, completed=done, total=total)
