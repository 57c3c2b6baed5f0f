"""Services: the concrete parts one app runs with, built by `create_app` and handed to routes."""

from __future__ import annotations

from dataclasses import dataclass, field

from receiver.auth.cache import TokenCache
from receiver.auth.directory import Directory
from receiver.auth.keyring import KeyRing
from receiver.auth.throttle import FailureThrottle
from receiver.clock import Clock
from receiver.metrics import Metrics
from receiver.net.ssrf import Resolver, system_resolver
from receiver.pump import Wakeup
from receiver.settings import Settings
from receiver.store.base import Store
from receiver.upstream.optum import OptumClient


@dataclass(slots=True)
class Services:
    """What a request handler may use; one instance per app."""

    settings: Settings
    store: Store
    keys: KeyRing  # the signing keys in force at any moment
    clock: Clock
    throttle: FailureThrottle
    metrics: Metrics = field(default_factory=Metrics)
    wakeup: Wakeup | None = None  # set when the worker runs in this process
    dispatch_wakeup: Wakeup | None = None  # set when the dispatcher runs in this process
    resolver: Resolver = system_resolver  # checks subscription URLs resolve to public hosts
    directory: Directory = field(kw_only=True)  # cached client and account lookups
    tokens: TokenCache = field(kw_only=True)  # verified access tokens
    optum: OptumClient | None = None  # Optum API calls (ERA enrollment)
