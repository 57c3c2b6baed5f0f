"""Throttling of failed client authentications at the token endpoint, per presented client id."""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from receiver.errors import ConfigError, TooManyRequestsError


class FailureThrottle:
    """Refuses a client id after `limit` failed authentications within `window_seconds`.

    The key is the client id as presented, known or not, so guessing secrets for any id is
    slowed down. State lives in this process's memory: a deployment with several replicas
    gets a limit per replica, and a restart forgets. At most `max_entries` ids are tracked;
    the least recently failed are forgotten first. A `limit` of 0 turns throttling off.
    """

    def __init__(self, limit: int, window_seconds: int, max_entries: int = 10_000) -> None:
        if limit < 0 or window_seconds < 1 or max_entries < 1:
            raise ConfigError(
                "auth failure throttle needs limit >= 0, window >= 1 s and max_entries >= 1"
            )
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)
        self.max_entries = max_entries
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def check(self, key: str, now: datetime) -> None:
        """Raise TooManyRequestsError (with Retry-After) if `key` is at its failure limit."""
        failures = self._recent(key, now)
        if self.limit and failures is not None and len(failures) >= self.limit:
            wait = (failures[0] + self.window - now).total_seconds()
            raise TooManyRequestsError(
                "too many failed authentications; try again later",
                retry_after=max(1, math.ceil(wait)),
            )

    def record_failure(self, key: str, now: datetime) -> None:
        """Count one failed authentication for `key` at `now`."""
        if not self.limit:
            return
        failures = self._recent(key, now)
        if failures is None:
            failures = self._failures[key] = deque(maxlen=self.limit)
        failures.append(now)
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_entries:
            self._failures.popitem(last=False)

    def reset(self, key: str) -> None:
        """Forget the failures of `key` (after it authenticated)."""
        self._failures.pop(key, None)

    def __len__(self) -> int:
        """How many keys are currently tracked."""
        return len(self._failures)

    def _recent(self, key: str, now: datetime) -> deque[datetime] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        cutoff = now - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures
