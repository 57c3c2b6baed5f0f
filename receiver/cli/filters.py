"""The one validation of CLI filter values: statuses from their enums, times with a timezone."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from receiver.models import DeliveryStatus, EventStatus, JobStatus

EVENT_STATUS = click.Choice([s.value for s in EventStatus])
JOB_STATUS = click.Choice([s.value for s in JobStatus])
DELIVERY_STATUS = click.Choice([s.value for s in DeliveryStatus])


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
