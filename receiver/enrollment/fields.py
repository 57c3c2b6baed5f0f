"""Field cleaners for JSON records: each normalises one value and notes what is wrong with
it at its path, never quoting the value. Pure."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_TEXT = 255
_DIGITS = re.compile(r"[0-9]+")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]+")
_MAX_KEY_IN_PATH = 64


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem, at a path such as `records[2].providerIdentifiers.npi`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class Problems:
    """Collects the problems found while values are cleaned."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        """Note a problem at `path`."""
        self.errors.append(FieldError(path, message))


Cleaner = Callable[[Problems, str, object], object]


@dataclass(frozen=True, slots=True)
class Field:
    """How one field of an object is cleaned, and whether it must be there."""

    clean: Cleaner
    required: bool = True


def is_valid_npi(npi: str) -> bool:
    """Whether `npi` is 10 digits whose last is the Luhn check digit over `80840` and the
    first nine (the NPI standard's check)."""
    return len(npi) == 10 and npi.isascii() and npi.isdigit() and _luhn_ok("80840" + npi)


def obj(fields: Mapping[str, Field], *, at_least_one: bool = False) -> Cleaner:
    """An object with `fields`: unknown keys, missing required fields (blank counts as
    missing) and, with `at_least_one`, an empty object are problems; blank optional fields
    are left out."""

    def clean(problems: Problems, path: str, value: object) -> object:
        if not isinstance(value, Mapping):
            problems.fail(path, "must be an object")
            return value
        out: dict[str, object] = {}
        for key, item in value.items():
            where = f"{path}.{str(key)[:_MAX_KEY_IN_PATH]}"
            spec = fields.get(key)
            if spec is None:
                problems.fail(where, "is not a field of this object")
                out[key] = item
            elif not _is_blank(item):
                out[key] = spec.clean(problems, where, item)
        for key, spec in fields.items():
            if spec.required and key not in out:
                problems.fail(f"{path}.{key}", "is required")
        if at_least_one and not any(key in out for key in fields):
            problems.fail(path, f"needs at least one of {', '.join(fields)}")
        return out

    return clean


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text_field(problems: Problems, path: str, value: object) -> object:
    """A string with its whitespace collapsed, at most MAX_TEXT characters."""
    if not isinstance(value, str):
        problems.fail(path, "must be a string")
        return value
    collapsed = " ".join(value.split())
    if len(collapsed) > MAX_TEXT:
        problems.fail(path, f"must be at most {MAX_TEXT} characters")
    return collapsed


def matching(pattern: re.Pattern[str], message: str, *, upper: bool = False) -> Cleaner:
    """A string (upper-cased first with `upper`) that must match `pattern`."""

    def clean(problems: Problems, path: str, value: object) -> object:
        text = text_field(problems, path, value)
        if not isinstance(text, str):
            return text
        text = text.upper() if upper else text
        if not pattern.fullmatch(text):
            problems.fail(path, message)
        return text

    return clean


def email(problems: Problems, path: str, value: object) -> object:
    """An email address, lower-cased and without spaces."""
    text = text_field(problems, path, value)
    if not isinstance(text, str):
        return text
    email = text.replace(" ", "").lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        problems.fail(path, "must be an email address")
    return email


def _digits_of(value: object) -> str | None:
    """The digits of an integer, or of a string of digits with spaces, hyphens, dots and
    parentheses; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    stripped = re.sub(r"[\s().-]", "", value.strip().removeprefix("+"))
    return stripped if _DIGITS.fullmatch(stripped) else None


def npi(problems: Problems, path: str, value: object) -> object:
    """A valid NPI, as the integer the schema has."""
    digits = _digits_of(value)
    if digits is None or not is_valid_npi(digits):
        problems.fail(path, "must be a 10-digit NPI with a valid check digit")
        return value
    return int(digits)


def tin(problems: Problems, path: str, value: object) -> object:
    """A 9-digit TIN or EIN, as the integer the schema has."""
    digits = _digits_of(value)
    # An integer TIN has lost its leading zeros (the schema's type); a string must have all 9.
    if digits is not None and isinstance(value, int):
        digits = digits.zfill(9)
    if digits is None or len(digits) != 9 or int(digits) == 0:
        problems.fail(path, "must be a 9-digit TIN or EIN")
        return value
    return int(digits)


def phone(problems: Problems, path: str, value: object) -> object:
    """A US phone number as its 10 digits (a leading country code 1 is dropped)."""
    digits = _digits_of(value)
    if digits is not None and len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if digits is None or len(digits) != 10:
        problems.fail(path, "must be a 10-digit phone number")
        return value
    return digits


def extension(problems: Problems, path: str, value: object) -> object:
    """A phone extension as its digits."""
    digits = _digits_of(value)
    if digits is None or len(digits) > 10:
        problems.fail(path, "must be at most 10 digits")
        return value
    return digits


def zip_code(problems: Problems, path: str, value: object) -> object:
    """A ZIP or ZIP+4 code as its 5 or 9 digits (X12 N403 style, no hyphen)."""
    digits = _digits_of(value)
    if digits is not None and isinstance(value, int):
        digits = digits.zfill(5 if len(digits) <= 5 else 9)
    if digits is None or len(digits) not in (5, 9):
        problems.fail(path, "must be a 5- or 9-digit ZIP code")
        return value
    return digits


def positive_integer(problems: Problems, path: str, value: object) -> object:
    """A positive int64, given as an integer or a string of digits."""
    digits = _digits_of(value)
    if digits is None or int(digits) == 0 or int(digits) >= 2**63:
        problems.fail(path, "must be a positive integer")
        return value
    return int(digits)


def base64_field(problems: Problems, path: str, value: object) -> object:
    """A base64 string, without the whitespace line breaks may have put in it."""
    if not isinstance(value, str):
        problems.fail(path, "must be a base64 string")
        return value
    compact = "".join(value.split())
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        problems.fail(path, "must be a base64 string")
    return compact


def choice(values: tuple[str, ...]) -> Cleaner:
    """A code from `values`, matched whatever its case, with spaces or hyphens for `_`."""

    def clean(problems: Problems, path: str, value: object) -> object:
        text = text_field(problems, path, value)
        if not isinstance(text, str):
            return text
        code = re.sub(r"[\s-]+", "_", text).upper()
        if code not in values:
            problems.fail(path, f"must be one of {', '.join(values)}")
            return text
        return code

    return clean


def exactly(number: int) -> Cleaner:
    """The integer `number`, given as an integer or a string of digits."""

    def clean(problems: Problems, path: str, value: object) -> object:
        digits = _digits_of(value)
        if digits is None or int(digits) != number:
            problems.fail(path, f"must be {number}")
            return value
        return number

    return clean


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0
