"""What of an upstream error answer receiver keeps: the decision in one pure function."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

# An error code is an enumerated token (Stedi's `code`: TOO_MANY_REQUESTS, UNAUTHORIZED...).
_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
# A trace id is an opaque identifier with at least one digit (a UUID, an AWS request or trace
# id such as Root=1-67a1b2c3-...): never a word or a name.
_TRACE = re.compile(r"(?=[^0-9]*[0-9])[A-Za-z0-9][A-Za-z0-9=;:._-]{7,127}")
# Where Stedi's answers may carry them: the JSON error body, then the response headers.
_BODY_CODE_KEYS = ("code", "errorCode")
_BODY_TRACE_KEYS = ("traceId", "requestId")
_TRACE_HEADERS = ("x-amzn-requestid", "x-amzn-trace-id", "x-request-id")


def describe_upstream_failure(status: int, headers: Mapping[str, str], body: bytes) -> str:
    """The reason kept (job `last_error`, log lines) for an upstream answer with `status`:
    `HTTP <status>`, then Stedi's error code and trace id where the body or headers carry
    them, e.g. `HTTP 429 (code TOO_MANY_REQUESTS, trace 1c9d4e2a-...)`.

    Nothing else of the answer is kept: an error `message` (or any other text) is free text
    from upstream that may repeat patient data from the request, so only values shaped like a
    code or an id pass, each checked against a strict pattern.
    """
    parsed = _json_object(body)
    code = _first(_CODE, (parsed.get(key) for key in _BODY_CODE_KEYS))
    trace = _first(
        _TRACE,
        [*(parsed.get(key) for key in _BODY_TRACE_KEYS), *(headers.get(h) for h in _TRACE_HEADERS)],
    )
    details = [part for part in (code and f"code {code}", trace and f"trace {trace}") if part]
    return f"HTTP {status}" + (f" ({', '.join(details)})" if details else "")


def _first(pattern: re.Pattern[str], candidates: Iterable[object]) -> str | None:
    """The first candidate that is a string matching `pattern` in full."""
    for value in candidates:
        if isinstance(value, str) and pattern.fullmatch(value):
            return value
    return None


def _json_object(body: bytes) -> dict[str, object]:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
