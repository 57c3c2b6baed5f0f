"""The Store protocol: every durable read and write receiver makes, in domain verbs.

Two adapters implement it (`SqliteStore`, `PostgresStore`) and one contract suite
(`tests/contract/`) holds both to the same behaviour. Every read sees every write whose verb
returned before the read was called, however many other reads are in flight (each read runs
on a snapshot taken when it starts): the worker finds the event of a job it has just claimed.
Adapters map their driver's exceptions to `StoreUnavailableError` (the store cannot be
reached or written) or `ConflictError` (a unique name is taken) at their boundary; nothing
driver-specific leaks upward.
"""

from __future__ import annotations

import base64
from typing import Protocol

from receiver.errors import BadRequestError
from receiver.store.datakeys_port import DataKeyStore
from receiver.store.ports import (
    AuditTrail,
    DeliveryLog,
    DeliveryQueue,
    Directory,
    EligibilityStore,
    EnrollmentStore,
    EventLog,
    IntakeLog,
    JobQueue,
    Lifecycle,
    ReplayLog,
    ReprocessQueue,
    Retention,
    WakeUps,
)

PROCESS_JOB = "process"
MAX_PAGE = 500
MAX_ERROR_CHARS = 1000


class Store(
    Lifecycle,
    IntakeLog,
    EventLog,
    JobQueue,
    Directory,
    DeliveryQueue,
    DeliveryLog,
    ReplayLog,
    WakeUps,
    EligibilityStore,
    EnrollmentStore,
    AuditTrail,
    ReprocessQueue,
    Retention,
    DataKeyStore,
    Protocol,
):
    """Durable state: inbound events with their jobs, OAuth clients, Stedi accounts,
    subscriptions and deliveries. The union of the narrow ports in `receiver.store.ports`;
    each consumer takes only the port it uses."""


def truncate_error(error: str) -> str:
    """A job error cut to `MAX_ERROR_CHARS` characters."""
    return error[:MAX_ERROR_CHARS]


def encode_cursor(seq: int) -> str:
    """An opaque cursor for a row's sequence number."""
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The sequence number behind a cursor; BadRequestError if it is not one of ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError(raw)
        seq = int(raw[1:])
        if not 0 <= seq < 2**63:  # both dialects keep seq in a signed 64-bit integer
            raise ValueError(raw)
        return seq
    except (ValueError, UnicodeDecodeError):
        raise BadRequestError("cursor is not valid") from None


def check_limit(limit: int) -> int:
    """A page size between 1 and MAX_PAGE, or BadRequestError."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequestError(f"limit must be between 1 and {MAX_PAGE}")
    return limit
