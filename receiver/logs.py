"""structlog set-up: JSON or console lines, request id from contextvars, secrets redacted."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

# Keys whose values are never written, whatever a caller passes by mistake.
REDACTED_KEYS = frozenset(
    {
        "authorization",
        "body",
        "client_secret",
        "secret",
        "token",
        "access_token",
        "password",
        "api_key",
        "headers",
        "payload",
    }
)


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Processor: replace the value of any sensitive key with a marker."""
    for key in REDACTED_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def _orjson_dumps(value: Any, **kw: Any) -> str:
    """JSONRenderer's serializer: orjson (a fifth of the json module's cost per line here);
    what it cannot encode goes to structlog's fallback (`repr`) as with `json.dumps`."""
    return orjson.dumps(value, default=kw.get("default"), option=_ORJSON_OPTIONS).decode()


def configure_logging(
    log_format: str = "console", level: str = "info", stream: Any = None, *, final: bool = False
) -> None:
    """Configure structlog (process-wide; called once by the composition root or the CLI).

    `final` (the serving processes) lets each logger cache its configuration on first use,
    which makes a call below the level nearly free; tests that reconfigure leave it off.
    """
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=final,
    )
