"""Moved to receiver.demo.sink (shared with `receiver demo`); re-exported for older imports."""

from receiver.demo.sink import *  # noqa: F403
