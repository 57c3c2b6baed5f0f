"""The demo's stage lines: pure descriptions of what was received, fetched and delivered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

REPORT_PREFIX = "/change/medicalnetwork/reports/v2/"
REPORT_NAMES = {"277": "the 277CA report", "835": "the 835 ERA report"}
WIDTH = 10


def stage(name: str, text: str) -> str:
    """One stage line: the stage's name in a column, then what happened."""
    return f"{name:<{WIDTH}} {text}"


def describe_event(event: Mapping[str, Any]) -> str:
    """A `received` line for an event as `GET /events` lists it (ids and codes only)."""
    summary = event.get("summary") or {}
    what = f"{event.get('source')} {event.get('type')}"
    if event.get("transaction_set"):
        direction = f"{event['direction']} " if event.get("direction") else ""
        what += f", {direction}{event['transaction_set']}"
    how = "found by reconciliation (poll-transactions)" if summary.get("reconciled") else "stored"
    return stage("received", f"{what}: {how} as {event.get('id')}")


def describe_fetch(path: str) -> str | None:
    """A `fetched` line for a request the Stedi stand-in served, or None for a poll."""
    if path.startswith(REPORT_PREFIX):
        transaction_id, _, kind = path.removeprefix(REPORT_PREFIX).partition("/")
        name = REPORT_NAMES.get(kind, f"the {kind} report")
        return stage("fetched", f"{name} of transaction {transaction_id} from Stedi")
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "transactions" and parts[2] in ("input", "output"):
        return stage("fetched", f"the 837's {parts[2]} of transaction {parts[1]}: a redirect")
    if len(parts) == 2 and parts[0] == "download":
        return stage("fetched", f"the 837 X12 of transaction {parts[1]} from its download URL")
    return None


def describe_delivery(body: bytes, verified: bool) -> str:
    """A `delivered` line for a message the subscriber got (ids, codes and amounts only)."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return stage("delivered", "a body that is not JSON")
    data = message.get("data") if isinstance(message, dict) else None
    data = data if isinstance(data, dict) else {}
    kind = str(message.get("type")) if isinstance(message, dict) else "?"
    check = "signature verified" if verified else "SIGNATURE NOT VERIFIED"
    return stage("delivered", f"{kind} ({check}): {_detail(kind, data)}")


def _detail(kind: str, data: dict[str, Any]) -> str:
    claims = [c for c in data.get("claims") or [] if isinstance(c, dict)]
    if kind == "claim.acknowledgment.received":
        return "; ".join(
            f"claim {c.get('patient_control_number')} status category "
            f"{','.join(c.get('status_category_codes') or [])}"
            for c in claims
        )
    if kind == "claim.remittance.received":
        return "; ".join(
            f"claim {c.get('patient_control_number')} paid {c.get('paid_amount')} "
            f"of {c.get('charge_amount')} charged"
            for c in claims
        )
    if kind == "coverage_discovery.completed":
        coverages = [c for c in data.get("coverages") or [] if isinstance(c, dict)]
        payers = ", ".join(str(c.get("payer_name") or c.get("chc_payer_id")) for c in coverages)
        found = f"{len(coverages)} coverage{'' if len(coverages) == 1 else 's'} found"
        return f"task {data.get('task_id')} {data.get('task_status')}: {found} ({payers})"
    return f"event {data.get('event_id')}"
