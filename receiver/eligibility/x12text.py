"""The X12 character sets and code lists the eligibility rules check text against."""

from __future__ import annotations

import string

# X12.6 basic character set: uppercase letters, digits, space and these specials.
BASIC = frozenset(string.ascii_uppercase + string.digits + " " + "!\"&'()*+,-./:;?=")
# The extended set adds lowercase letters and these specials.
EXTENDED = frozenset(string.ascii_lowercase + "%@[]_{}\\|<>#$")
# Stedi's JSON-to-X12 translation uses these as delimiters and X12 has no escape sequence,
# so Stedi answers 400 for any of them anywhere in a request.
DELIMITERS = frozenset("~*:^")
ALLOWED = (BASIC | EXTENDED) - DELIMITERS

# Service type codes Stedi's EligibilityCheck request accepts (`RequestEligibilityServiceTypeCode`
# in Stedi's healthcare OpenAPI, X12 005010): 1-28, 30, 32-99, then the lettered codes.
SERVICE_TYPE_CODES = frozenset(
    [str(n) for n in range(1, 100) if n not in (29, 31)]
    + [f"A{c}" for c in "0123456789ABCDEFGHIJKLMNOQR"]
    + ["B1", "B2", "B3"]
    + [f"B{c}" for c in "ABCDEFGHIJKLMNPQRSTUVWXYZ"]
    + ["C1"]
    + [f"C{c}" for c in "ABCDEFGHIJKLMNOPQ"]
    + ["DG", "DM", "DS", "GF", "GN", "GY", "IC", "MH", "NI"]
    + ["ON", "PT", "PU", "RN", "RT", "TC", "TN", "UC"]
)


def disallowed_characters(text: str) -> list[str]:
    """The distinct characters of `text` outside `ALLOWED`, in order of first appearance."""
    seen: list[str] = []
    for char in text:
        if char not in ALLOWED and char not in seen:
            seen.append(char)
    return seen


def describe_characters(chars: list[str], *, limit: int = 5) -> str:
    """A phrase naming the refused characters (never the value they came from)."""
    shown = ", ".join(_describe(char) for char in chars[:limit])
    more = f" and {len(chars) - limit} more" if len(chars) > limit else ""
    return shown + more


def _describe(char: str) -> str:
    if char in DELIMITERS:
        return f"'{char}' (an X12 delimiter)"
    if char.isprintable() and not char.isspace():
        return f"'{char}' (U+{ord(char):04X})"
    return f"U+{ord(char):04X}"
