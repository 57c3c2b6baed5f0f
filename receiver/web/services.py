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
from receiver.upstream.stedi_eligibility import StediEligibilityClient


@dataclass(slots=True)
class Services:
    """What a request handler may use; one instance per app."""

    settings: Settings
    store: Store
    keys: KeyRing  # the signing keys in force at any moment
    clock: Clock
    throttle: FailureThrottle
    metrics: Metrics = field(default_factory=Metrics)
    # Told of new events and of deliveries due now; nobody waits on them unless the worker
    # and the dispatcher run in this process.
    wakeup: Wakeup = field(default_factory=Wakeup)
    dispatch_wakeup: Wakeup = field(default_factory=Wakeup)
    resolver: Resolver = system_resolver  # checks subscription URLs resolve to public hosts
    directory: Directory = field(kw_only=True)  # cached client and account lookups
    tokens: TokenCache = field(kw_only=True)  # verified access tokens
    eligibility: StediEligibilityClient | None = None  # Stedi eligibility calls, per-account bound
    optum: OptumClient | None = None  # Optum API calls (ERA enrollment)
