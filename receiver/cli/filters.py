"""CLI filter options: enum values checked by the API's own validation (`ops.filters`), times
with a timezone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

from receiver.errors import ReceiverError
from receiver.ops.filters import one_of

F = TypeVar("F", bound=Callable[..., Any])


def enum_filter(flag: str, allowed: Sequence[str], help: str | None = None) -> Callable[[F], F]:
    """A `--flag` option taking one of `allowed`, checked by `ops.filters.one_of` (so a bad
    value is refused in the API's words); its help and completions list the values."""

    def check(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        try:
            return one_of(param.name or flag.lstrip("-"), value, allowed)
        except ReceiverError as exc:
            raise click.BadParameter(f"{value!r}: {exc.detail}", param=param) from None

    def complete(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
        return [CompletionItem(value) for value in allowed if value.startswith(incomplete)]

    return click.option(
        flag,
        callback=check,
        metavar="[" + "|".join(allowed) + "]",
        shell_complete=complete,
        help=help,
    )


def aware_time(raw: str) -> datetime:
    """An ISO-8601 time that names its timezone ('Z' or an offset), in UTC; else ValueError."""
    value = datetime.fromisoformat(raw.strip().replace("z", "Z").replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("naive")
    return value.astimezone(UTC)


def check_time(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An option callback: an ISO-8601 time with a timezone, handed on as its UTC ISO form
    (a callback rather than a ParamType subclass, which is generic only in recent click)."""
    if value is None:
        return None
    try:
        return aware_time(value).isoformat()
    except (ValueError, OverflowError):
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 time with a timezone "
            "(e.g. 2026-12-02T19:00:00Z or 2026-12-02T14:00:00-05:00)",
            param=param,
        ) from None
