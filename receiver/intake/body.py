"""Inbound request bodies and headers: content type, bounded JSON parsing, header cleaning."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import orjson

from receiver.errors import BadRequestError, UnsupportedMediaTypeError

ACCEPTED_MEDIA_TYPES = "application/json or application/*+json (charset utf-8)"

# Never stored: credentials a sender (or a proxy in front of us) attached to the request.
ALWAYS_DROPPED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})

_UTF8_NAMES = frozenset({"utf-8", "utf8"})


def require_json_content_type(content_type: str | None) -> None:
    """Accept a JSON content type, or none at all; raise UnsupportedMediaTypeError otherwise.

    A missing or empty Content-Type is accepted on purpose: refusing a real event because a
    sender left the header out costs more than parsing a body that then turns out not to be
    JSON (which is a 400 anyway).
    """
    if content_type is None or not content_type.strip():
        return
    media_type, _, params = content_type.partition(";")
    kind, slash, subtype = media_type.strip().lower().partition("/")
    is_json = (
        kind == "application"
        and slash == "/"
        and (subtype == "json" or (subtype.endswith("+json") and len(subtype) > len("+json")))
    )
    if not is_json:
        raise UnsupportedMediaTypeError(f"content type must be {ACCEPTED_MEDIA_TYPES}")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() != "charset":
            continue
        if value.strip().strip('"').lower() not in _UTF8_NAMES:
            raise UnsupportedMediaTypeError(f"content type must be {ACCEPTED_MEDIA_TYPES}")


def parse_json_object(body: bytes, *, max_depth: int) -> dict[str, object]:
    """Parse `body` as a JSON object nested at most `max_depth` levels deep.

    The top-level object is depth 1. Invalid UTF-8, invalid JSON, a non-object top level and
    deeper nesting are all BadRequestError. The depth check walks the value iteratively, so a
    deep body cannot exhaust the stack (orjson itself refuses more than 1024 levels).
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError("body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise BadRequestError("body must be a JSON object")
    # Fewer opening brackets than the limit cannot nest past it: skip the walk (most bodies).
    if body.count(b"{") + body.count(b"[") > max_depth and _nests_deeper_than(value, max_depth):
        raise BadRequestError(f"body is nested more than {max_depth} levels deep")
    return value


def _nests_deeper_than(value: object, max_depth: int) -> bool:
    """True if `value` nests objects and arrays more than `max_depth` levels, without recursion."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def clean_headers(headers: Iterable[tuple[str, str]], drop: Collection[str]) -> dict[str, str]:
    """Headers as they may be stored: names lower-cased, credentials removed.

    Drops `authorization`, `proxy-authorization`, `cookie`, `x-api-key` and every name in
    `drop` (compared case-insensitively); repeated names are joined with ", ".
    """
    dropped = ALWAYS_DROPPED_HEADERS | {name.lower() for name in drop}
    cleaned: dict[str, str] = {}
    for raw_name, value in headers:
        name = raw_name.lower()
        if name in dropped:
            continue
        cleaned[name] = f"{cleaned[name]}, {value}" if name in cleaned else value
    return cleaned
