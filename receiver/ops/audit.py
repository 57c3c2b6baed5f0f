"""The audit trail as ops read it: filters from raw input, JSON renderings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from receiver.errors import BadRequestError
from receiver.models import AuditEntry, AuditFilter, Page
from receiver.ops.filters import AUDIT_ACTIONS, one_of
from receiver.ops.replays import parse_instant


def audit_filter(query: Mapping[str, Any]) -> AuditFilter:
    """An AuditFilter from query parameters or CLI options: `action` one of AUDIT_ACTIONS,
    `since` and `until` ISO-8601 times with a timezone; BadRequestError otherwise."""
    action = one_of("action", query.get("action"), AUDIT_ACTIONS)
    since, until = (
        None if query.get(name) is None else parse_instant(name, query.get(name))
        for name in ("since", "until")
    )
    if since is not None and until is not None and until <= since:
        raise BadRequestError("until must be later than since")
    return AuditFilter(actor=query.get("actor") or None, action=action, since=since, until=until)


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """The public JSON form of an audit row."""
    return {
        "id": entry.id,
        "at": entry.created_at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "filter": entry.filter,
        "counts": entry.counts,
        "request_id": entry.request_id,
    }


def page_json(page: Page[AuditEntry]) -> dict[str, Any]:
    """A page of audit rows as the API and `receiver audit list --json` answer it."""
    return {"items": [audit_json(e) for e in page.items], "next_cursor": page.next_cursor}
