"""The one validation of enum filter values (sources, statuses, job kinds, audit actions) and
their lists, which the API, the CLI and the OpenAPI document all take from here."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from receiver.errors import BadRequestError
from receiver.models import AuditAction, DeliveryStatus, EventStatus, JobStatus, Source
from receiver.store.base import PROCESS_JOB
from receiver.store.reprocess_sql import REPROCESS_JOB


def values_of(kind: type[enum.StrEnum]) -> tuple[str, ...]:
    """An enum's values, in declaration order."""
    return tuple(member.value for member in kind)


SOURCES = values_of(Source)
EVENT_STATUSES = values_of(EventStatus)
JOB_STATUSES = values_of(JobStatus)
JOB_KINDS = (PROCESS_JOB, REPROCESS_JOB)  # an event's first follow-up, and a run again
DELIVERY_STATUSES = values_of(DeliveryStatus)
AUDIT_ACTIONS = values_of(AuditAction)


def not_one_of(name: str, allowed: Sequence[str]) -> str:
    """The message for a value of `name` outside `allowed`: names both, never the value."""
    return f"{name} must be one of {', '.join(allowed)}"


def one_of(name: str, raw: object, allowed: Sequence[str]) -> str | None:
    """`raw` when it is one of `allowed` (None, an absent filter, stays None);
    BadRequestError naming the parameter and the allowed values otherwise."""
    if raw is None:
        return None
    if not isinstance(raw, str) or raw not in allowed:
        raise BadRequestError(not_one_of(name, allowed))
    return raw
