"""Moved to receiver.demo.serving (shared with `receiver demo`); re-exported for older imports."""

from receiver.demo.serving import *  # noqa: F403
