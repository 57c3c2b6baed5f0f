"""Validated batch items split into Stedi batch-eligibility submissions, in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

DEFAULT_BATCH_SIZE = 500


def split_batches(items: Sequence[T], size: int = DEFAULT_BATCH_SIZE) -> list[list[T]]:
    """Consecutive chunks of at most `size` items, keeping their order; none for no items.

    Each chunk becomes one `POST /eligibility-manager/batch-eligibility`, so a chunk boundary
    never reorders or drops an item: concatenating the chunks gives `items` back.
    """
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    return [list(items[start : start + size]) for start in range(0, len(items), size)]
