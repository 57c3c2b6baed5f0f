"""Optum Coverage Discovery callbacks: parse a `CoverageDiscoveryTask` into an InboundEvent."""

from __future__ import annotations

from datetime import datetime

from receiver.errors import BadRequestError
from receiver.models import InboundEvent, Source

COVERAGE_DISCOVERY_TYPE = "coverage_discovery.task"
DISCOVERY_PATH_KINDS = ("successful", "unsuccessful", "pending", "skipped")


def _str(value: object) -> str | None:
    """`value` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def _path_counts(discovery_paths: object) -> dict[str, int]:
    """How many discovery paths of each kind a task lists; anything odd counts as none."""
    paths = discovery_paths if isinstance(discovery_paths, dict) else {}
    return {
        kind: len(entries) if isinstance(entries := paths.get(kind), list) else 0
        for kind in DISCOVERY_PATH_KINDS
    }


def _trace_id(value: object) -> str | None:
    """A trace id without the junk Optum's examples carry (trailing commas, whitespace)."""
    if not isinstance(value, str):
        return None
    return value.strip().rstrip(", \t\r\n") or None


def parse_coverage_discovery(
    payload: dict[str, object],
    *,
    event_id: str,
    body: bytes,
    headers: dict[str, str],
    received_at: datetime,
) -> InboundEvent:
    """Turn a Coverage Discovery callback body into an InboundEvent, leniently.

    Unknown fields are ignored (the body is stored as received). Only the task `id` and
    `status` are required, since they are the dedup key; without them, BadRequestError.
    `headers` has lower-case names. The summary holds ids and codes only: no member data,
    no names, no X12 271.
    """
    task_id = _str(payload.get("id"))
    if task_id is None:
        raise BadRequestError("coverage discovery task has no 'id' (expected a non-empty string)")
    status = _str(payload.get("status"))
    if status is None:
        raise BadRequestError(
            "coverage discovery task has no 'status' (expected a non-empty string)"
        )
    tenant_id = _str(headers.get("x-optum-tenant-id", "").strip())
    summary: dict[str, object] = {
        "task_id": task_id,
        "task_status": status,
        "tenant_id": tenant_id,
        "correlation_id": _str(headers.get("x-optum-correlation-id", "").strip())
        or _str(payload.get("correlationId")),
        "task_type": _str(payload.get("type")),
        "trace_id": _trace_id(payload.get("traceId")),
        "path_counts": _path_counts(payload.get("discoveryPaths")),
    }
    return InboundEvent(
        id=event_id,
        source=Source.OPTUM,
        type=COVERAGE_DISCOVERY_TYPE,
        account=tenant_id,
        external_id=task_id,
        # Not scoped by tenant: only Optum holds the callback scope, the answer is 204 either
        # way (it names no event), and the tenant header is not authenticated, so a retry
        # that lacked it would be stored twice.
        dedup_keys=(f"optum:task:{task_id}:{status}",),
        body=body,
        headers=headers,
        received_at=received_at,
        summary=summary,
    )
