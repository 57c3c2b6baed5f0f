"""Prefixed, time-ordered identifiers (`evt_…`, `job_…`, `cli_…`)."""

from __future__ import annotations

import time

from receiver.entropy import random_bytes

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # every 10-bit value as two digits
_SHIFTS = tuple(range(120, -1, -10))  # 13 pairs: 26 digits, 130 bits, most significant first


def new_id(prefix: str) -> str:
    """`prefix_` + 26 base32 characters: 48 bits of milliseconds then 80 random bits."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(random_bytes(10), "big")
    return prefix + "_" + "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])
