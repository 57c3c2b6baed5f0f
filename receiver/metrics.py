"""Prometheus metrics, on a registry owned by one app (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
