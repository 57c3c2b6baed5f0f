"""Moved to receiver.demo.stedi (shared with `receiver demo`); re-exported for older imports."""

from receiver.demo.stedi import *  # noqa: F403
