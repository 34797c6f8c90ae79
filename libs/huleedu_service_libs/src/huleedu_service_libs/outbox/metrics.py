"""Prometheus metrics of the outbox relay, registered once per registry."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

# Commit-to-ack latency: milliseconds when healthy, minutes when the broker was away.
LATENCY_BUCKETS_S = (
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)


class OutboxMetrics:
    """The metric families; one instance per registry, shared by every relay in a process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.backlog = Gauge(
            "huleedu_outbox_backlog",
            "Outbox rows committed but not yet published (dead rows excluded).",
            ["service"],
            registry=registry,
        )
        self.oldest_pending_age = Gauge(
            "huleedu_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox row waiting to be published.",
            ["service"],
            registry=registry,
        )
        self.dead_rows_current = Gauge(
            "huleedu_outbox_dead_rows_current",
            "Outbox rows in the dead state, waiting for an operator.",
            ["service"],
            registry=registry,
        )
        self.leader = Gauge(
            "huleedu_outbox_relay_leader",
            "1 while this process holds the service's relay lock and publishes.",
            ["service"],
            registry=registry,
        )
        self.published = Counter(
            "huleedu_outbox_published",
            "Outbox rows published and marked.",
            ["service"],
            registry=registry,
        )
        self.publish_failures = Counter(
            "huleedu_outbox_publish_failures",
            "Failed attempts to publish an outbox row, by error class.",
            ["service", "reason"],
            registry=registry,
        )
        self.dead_rows = Counter(
            "huleedu_outbox_dead_rows",
            "Outbox rows that exhausted their attempts and were marked dead.",
            ["service"],
            registry=registry,
        )
        self.publish_latency = Histogram(
            "huleedu_outbox_publish_latency_seconds",
            "From the row's creation (its transaction) to the broker's ack.",
            ["service"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )

    def for_service(self, service: str) -> ServiceOutboxMetrics:
        return ServiceOutboxMetrics(
            service=service,
            families=self,
            backlog=self.backlog.labels(service=service),
            oldest_pending_age=self.oldest_pending_age.labels(service=service),
            dead_rows_current=self.dead_rows_current.labels(service=service),
            leader=self.leader.labels(service=service),
            published=self.published.labels(service=service),
            dead_rows=self.dead_rows.labels(service=service),
            publish_latency=self.publish_latency.labels(service=service),
        )


@dataclass(frozen=True)
class ServiceOutboxMetrics:
    """The children of one service's label, bound once instead of on every batch."""

    service: str
    families: OutboxMetrics
    backlog: Gauge
    oldest_pending_age: Gauge
    dead_rows_current: Gauge
    leader: Gauge
    published: Counter
    dead_rows: Counter
    publish_latency: Histogram

    def publish_failure(self, reason: str, count: int = 1) -> None:
        self.families.publish_failures.labels(service=self.service, reason=reason).inc(count)


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, OutboxMetrics] = (
    weakref.WeakKeyDictionary()
)


def outbox_metrics(registry: CollectorRegistry | None = None) -> OutboxMetrics:
    """The outbox metric families of `registry` (default: the process-wide registry)."""
    target = REGISTRY if registry is None else registry
    metrics = _by_registry.get(target)
    if metrics is None:
        metrics = OutboxMetrics(target)
        _by_registry[target] = metrics
    return metrics
