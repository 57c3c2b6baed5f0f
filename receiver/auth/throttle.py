"""Throttling of failed client authentications at the token endpoint, per source address."""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from receiver.errors import ConfigError

_IPV6_PREFIX = 64  # one host or site usually holds a whole /64


@dataclass(frozen=True, slots=True)
class Failure:
    """What one counted failure means for its source."""

    locks_out: bool  # this failure brought the source to its limit: the lock-out starts
    retry_after: int | None  # the source was locked out already: refuse it for this long


def source_key(host: str | None) -> str:
    """The throttling key for a client address: the address itself, or its /64 for IPv6
    (one machine can take any address in its /64, so counting per address would not count)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a unix socket peer or a name given by a trusted proxy
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, _IPV6_PREFIX), strict=False))
    return str(address)


class FailureThrottle:
    """Locks a source out after `limit` failed authentications within `window_seconds`.

    Only failures are refused: a lock-out never stands in the way of correct credentials, so
    someone who knows a client id cannot lock the real client out, and since client secrets
    carry 256 random bits there is nothing to gain by guessing at any rate. What the lock-out
    does is answer a misbehaving source 429 with Retry-After and keep its noise out of the log.

    State lives in this process's memory: each replica counts on its own, and a restart
    forgets. At most `max_entries` sources are tracked; the least recently failed are
    forgotten first. A `limit` of 0 turns throttling off.
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

    def record_failure(self, key: str, now: datetime) -> Failure:
        """Count one failed authentication from `key` at `now`, and say what it means."""
        if not self.limit:
            return Failure(locks_out=False, retry_after=None)
        failures = self._recent(key, now)
        if failures is None:
            failures = self._failures[key] = deque(maxlen=self.limit)
        locked = len(failures) >= self.limit
        failures.append(now)
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_entries:
            self._failures.popitem(last=False)
        if locked:
            # Failures are answered normally again once the oldest of the last `limit` has
            # left the window.
            wait = (failures[0] + self.window - now).total_seconds()
            return Failure(locks_out=False, retry_after=max(1, math.ceil(wait)))
        return Failure(locks_out=len(failures) == self.limit, retry_after=None)

    def __len__(self) -> int:
        """How many sources are currently tracked."""
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
