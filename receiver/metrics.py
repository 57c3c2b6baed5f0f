"""Prometheus metrics, on a registry owned by one app (no global state)."""

from __future__ import annotations

from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest


def _bound_once(metric: Any, values: tuple[object, ...], labels: Any) -> Any:
    """The child of `metric` for `values`, bound by `labels` the first time and kept: the hot
    path counts every request, and `labels()` (validation, string conversion, a lock) cost
    more than the increment it led to."""
    children: dict[tuple[object, ...], Any] | None = metric.__dict__.get("_bound_children")
    if children is None:
        children = metric.__dict__["_bound_children"] = {}
    child = children.get(values)
    if child is None:
        child = children[values] = labels(*values)
    return child


class Counter(prometheus_client.Counter):
    """A counter whose `labels(...)` children are bound once per label values."""

    def labels(self, *labelvalues: object, **labelkwargs: object) -> Counter:
        if labelkwargs:
            return super().labels(*labelvalues, **labelkwargs)
        return _bound_once(self, labelvalues, super().labels)  # type: ignore[no-any-return]


class Gauge(prometheus_client.Gauge):
    """A gauge whose `labels(...)` children are bound once per label values."""

    def labels(self, *labelvalues: object, **labelkwargs: object) -> Gauge:
        if labelkwargs:
            return super().labels(*labelvalues, **labelkwargs)
        return _bound_once(self, labelvalues, super().labels)  # type: ignore[no-any-return]


class Histogram(prometheus_client.Histogram):
    """A histogram whose `labels(...)` children are bound once per label values."""

    def labels(self, *labelvalues: object, **labelkwargs: object) -> Histogram:
        if labelkwargs:
            return super().labels(*labelvalues, **labelkwargs)
        return _bound_once(self, labelvalues, super().labels)  # type: ignore[no-any-return]


class Metrics:
    """The counters and histograms receiver exports at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound_events = Counter(
            "receiver_inbound_events",
            "Inbound events by source and outcome (accepted, duplicate, rejected)",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.inbound_duplicates = Counter(
            "receiver_inbound_duplicates",
            "Inbound events recognised as already stored",
            ["source"],
            registry=self.registry,
        )
        self.inbound_rejections = Counter(
            "receiver_inbound_rejections",
            "Inbound requests refused, by source and reason (error code)",
            ["source", "reason"],
            registry=self.registry,
        )
        self.intake_seconds = Histogram(
            "receiver_intake_seconds",
            "Time from request start to committed acknowledgement",
            ["source"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.jobs = Gauge(
            "receiver_jobs",
            "Follow-up jobs by state, read from the store at scrape time",
            ["state"],
            registry=self.registry,
        )
        self.job_outcomes = Counter(
            "receiver_job_outcomes",
            "Follow-up job outcomes in this process (done, retry, dead, lease_lost)",
            ["outcome"],
            registry=self.registry,
        )
        self.upstream_requests = Counter(
            "receiver_upstream_requests",
            "Requests to Stedi by endpoint and status (or error)",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.upstream_seconds = Histogram(
            "receiver_upstream_seconds",
            "Latency of requests to Stedi",
            ["endpoint"],
            registry=self.registry,
        )
        self.tokens_issued = Counter(
            "receiver_tokens_issued", "Access tokens issued", registry=self.registry
        )
        self.deliveries = Gauge(
            "receiver_deliveries",
            "Deliveries by state (refreshed when /metrics is read)",
            ["state"],
            registry=self.registry,
        )
        self.delivery_attempts = Counter(
            "receiver_delivery_attempts",
            "Delivery attempts by what they led to: delivered, pending (retry), dead, lease_lost",
            ["outcome"],
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "receiver_delivery_attempt_seconds",
            "Duration of one delivery attempt",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.delivery_lag_seconds = Histogram(
            "receiver_delivery_lag_seconds",
            "From a message's publication to its successful delivery",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600, 86400),
            registry=self.registry,
        )
        self.parse_errors = Counter(
            "receiver_parse_errors",
            "Parts of upstream documents that could not be read, by document (the X12 set, "
            "e.g. 271); each is published with its parse error, never dropped",
            ["document"],
            registry=self.registry,
        )
        self.subscriptions_disabled = Counter(
            "receiver_subscriptions_disabled",
            "Subscriptions disabled by receiver: gone (410) or failing (too long without success)",
            ["reason"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
