"""Typed reads of decoded JSON request fields: a wrong type or length becomes an `Issue` at
the field's dotted path (never an exception, and never the value in the message)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

JsonObject = dict[str, object]

_DIGITS = re.compile(r"[0-9]+")


def is_digits(text: str, low: int, high: int) -> bool:
    """True for `low` to `high` ASCII digits (str.isdigit would take any script's digits)."""
    return low <= len(text) <= high and _DIGITS.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding about a request: the dotted path of the field (`""` for the whole check) and
    what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(slots=True)
class Report:
    """The errors and warnings found so far, in the order found."""

    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        """Record an error: the request must not be sent."""
        self.errors.append(Issue(path, message))

    def warn(self, path: str, message: str) -> None:
        """Record a warning: the request may be sent, but the caller should know."""
        self.warnings.append(Issue(path, message))


def read_string(obj: JsonObject, key: str, path: str, report: Report) -> str | None:
    """The field's string value, or None when absent; any other type is an error."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    report.error(join(path, key), f"must be a string, not {kind(value)}")
    return None


def read_object(
    obj: JsonObject, key: str, path: str, report: Report, *, required: bool
) -> JsonObject | None:
    """The field's object value, or None when absent (an error if `required`) or mistyped."""
    value = obj.get(key)
    if isinstance(value, dict):
        return value
    if value is not None:
        report.error(join(path, key), f"must be an object, not {kind(value)}")
    elif required:
        report.error(join(path, key), "is required")
    return None


def read_text(obj: JsonObject, key: str, path: str, report: Report, top: int) -> str | None:
    """The field's string value when it is 1 to `top` characters long; a wrong type or length
    is an error."""
    value = read_string(obj, key, path, report)
    if value is not None and not 1 <= len(value) <= top:
        report.error(join(path, key), f"must be 1 to {top} characters")
        return None
    return value


def read_date(obj: JsonObject, key: str, path: str, report: Report) -> date | None:
    """The field's date, written YYYYMMDD; a wrong type or an unreal date is an error."""
    text = read_string(obj, key, path, report)
    if text is None:
        return None
    parsed = parse_date(text)
    if parsed is None:
        report.error(join(path, key), "must be a real date written YYYYMMDD")
    return parsed


def parse_date(text: str) -> date | None:
    """The date `text` writes as YYYYMMDD, or None when it is not a real one."""
    if not is_digits(text, 8, 8):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def join(path: str, key: str) -> str:
    """The dotted path of `key` inside the object at `path`."""
    return f"{path}.{key}" if path else key


_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "a number"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "an object"),
)


def kind(value: object) -> str:
    """How a message names a decoded JSON value's type ("a number", "null", ...)."""
    if value is None:
        return "null"
    return next((name for type_, name in _KINDS if isinstance(value, type_)), "an unknown type")
