"""receiver: durable, verified, replayable intake for clearinghouse webhooks and callbacks."""

__version__ = "0.1.0"
