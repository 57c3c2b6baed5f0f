"""Paging of Optum list endpoints: the RFC 8288 `link` header's rel="next" and the
`x-total-count` header, read into the next offset. Only the integer `offset` is taken from a
link; its host and path are never followed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

# One link-value: <target> followed by ;-separated parameters (values may be quoted).
_LINK_VALUE = re.compile(
    r'\s*<(?P<target>[^>]*)>(?P<params>(?:\s*;\s*[^;,"=\s]+'
    r'(?:\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;,"\s]*))?)*)\s*(?:,|$)'
)
_PARAM = re.compile(r';\s*(?P<name>[^;,"=\s]+)(?:\s*=\s*(?P<value>"(?:[^"\\]|\\.)*"|[^;,"\s]*))?')
_DIGITS = re.compile(r"[0-9]{1,12}")
MAX_PAGE_SIZE = 100  # the spec's maximum `limit`
TASK_STATUSES = ("success", "failure", "pending")


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of Coverage Discovery tasks (JSON objects, as Optum sent them).

    `next_offset` is where the next page starts, or None on the last page; `total_count` is
    Optum's `x-total-count`, when it sent one."""

    tasks: tuple[dict[str, object], ...]
    offset: int
    next_offset: int | None
    total_count: int | None


def link_next_offset(header: str | None) -> int | None:
    """The `offset` query parameter of the rel="next" link in a `link` header, or None when
    there is no such link (or it carries no integer offset)."""
    if not header:
        return None
    position = 0
    while position < len(header):
        match = _LINK_VALUE.match(header, position)
        if match is None or match.end() == position:
            return None
        position = match.end()
        if "next" in _rels(match.group("params")):
            return _offset_of(match.group("target"))
    return None


def total_count(header: str | None) -> int | None:
    """`x-total-count` as an integer, or None when absent or not a number."""
    value = (header or "").strip()
    return int(value) if _DIGITS.fullmatch(value) else None


def next_offset(
    *, link_offset: int | None, count: int | None, offset: int, returned: int
) -> int | None:
    """Where the next page starts: the rel="next" link's offset when there is one, else (the
    offset counting records, as the spec's parameter text says) `offset + returned` while
    `x-total-count` says more remain, else None. A link that does not move forward is
    refused (ValueError): following it would list the same page for ever."""
    if link_offset is not None:
        if link_offset <= offset:
            raise ValueError("the next link's offset does not move past this page")
        return link_offset
    if count is not None and returned > 0 and offset + returned < count:
        return offset + returned
    return None


def _rels(params: str) -> set[str]:
    rels: set[str] = set()
    for param in _PARAM.finditer(params):
        if param.group("name").lower() == "rel":
            value = (param.group("value") or "").strip('"')
            rels.update(value.lower().split())
    return rels


def _offset_of(target: str) -> int | None:
    values = parse_qs(urlsplit(target).query).get("offset", [])
    if len(values) != 1 or not _DIGITS.fullmatch(values[0]):
        return None
    return int(values[0])


def task_query(
    since: datetime | None,
    until: datetime | None,
    status: str | None,
    correlation_id: str | None,
    offset: int,
    limit: int,
    newest_first: bool,
) -> dict[str, str]:
    """The list's query parameters, as the spec names them; ValueError for bad arguments."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    if offset < 0:
        raise ValueError("offset must not be negative")
    if status is not None and status not in TASK_STATUSES:
        raise ValueError(f"status must be one of {', '.join(TASK_STATUSES)}")
    if since is not None and until is not None and since >= until:
        raise ValueError("since must be before until")
    params = {
        "limit": str(limit),
        "offset": str(offset),
        "sort": "-startDateTime" if newest_first else "startDateTime",
    }
    if since is not None:
        params["startDateTime"] = _iso_z(since)
    if until is not None:
        params["endDateTime"] = _iso_z(until)
    if status is not None:
        params["status"] = status
    if correlation_id is not None:
        params["correlationId"] = correlation_id
    return params


def _iso_z(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("since and until must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
