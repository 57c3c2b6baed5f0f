"""Services: the concrete parts one app runs with, built by `create_app` and handed to routes."""

from __future__ import annotations

from dataclasses import dataclass, field

from receiver.auth.keys import SigningKey
from receiver.auth.throttle import FailureThrottle
from receiver.clock import Clock
from receiver.metrics import Metrics
from receiver.settings import Settings
from receiver.store.base import Store
from receiver.worker import Wakeup


@dataclass(slots=True)
class Services:
    """What a request handler may use; one instance per app."""

    settings: Settings
    store: Store
    signing_key: SigningKey
    clock: Clock
    throttle: FailureThrottle
    metrics: Metrics = field(default_factory=Metrics)
    wakeup: Wakeup | None = None  # set when the worker runs in this process

    @property
    def keys(self) -> dict[str, SigningKey]:
        """Verification keys by kid."""
        return {self.signing_key.kid: self.signing_key}
