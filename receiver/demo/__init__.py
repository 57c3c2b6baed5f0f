"""`receiver demo`: the pipeline end to end, offline, with stand-ins shared with the tests."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def packaged_fixtures() -> Traversable:
    """The fixtures the demo ships with (copies of the repository's `fixtures/` it needs)."""
    return files("receiver.demo") / "fixtures"
