"""Prometheus metrics, declared one way in every service.

Convention: names are `huleedu_<subsystem>_<what>[_<unit>]` in snake case (`_total` for counters,
`_seconds` for durations), labels are low-cardinality (route rules and event types, never ids).
Declare metrics with `counter`/`histogram`/`gauge`: declaring the same name twice in one registry
returns the first metric instead of failing, so modules and app factories can be imported and
called repeatedly (tests, several apps per process). `/metrics` serves `metrics_response`.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Sequence
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase
from quart import Response

__all__ = ["REGISTRY", "counter", "gauge", "histogram", "metrics_response"]

MetricT = TypeVar("MetricT", bound=MetricWrapperBase)

_NAME = re.compile(r"^huleedu_[a-z][a-z0-9_]*$")
_declared: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, MetricWrapperBase]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def counter(
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    *,
    registry: CollectorRegistry = REGISTRY,
) -> Counter:
    return _declare(Counter, name, documentation, labelnames, registry)


def gauge(
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    *,
    registry: CollectorRegistry = REGISTRY,
) -> Gauge:
    return _declare(Gauge, name, documentation, labelnames, registry)


def histogram(
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    *,
    buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
    registry: CollectorRegistry = REGISTRY,
) -> Histogram:
    return _declare(Histogram, name, documentation, labelnames, registry, buckets=tuple(buckets))


def metrics_response(registry: CollectorRegistry = REGISTRY) -> Response:
    """The registry in Prometheus text format, as a response for `/metrics`."""
    return Response(generate_latest(registry), status=200, content_type=CONTENT_TYPE_LATEST)


def _declare(
    kind: type[MetricT],
    name: str,
    documentation: str,
    labelnames: Sequence[str],
    registry: CollectorRegistry,
    **options: object,
) -> MetricT:
    if not _NAME.match(name):
        raise ValueError(f"metric name {name!r} must be snake case and start with 'huleedu_'")
    with _lock:
        declared = _declared.setdefault(registry, {})
        existing = declared.get(name)
        if existing is not None:
            if type(existing) is not kind or existing._labelnames != tuple(labelnames):
                raise ValueError(
                    f"metric {name!r} already declared as {type(existing).__name__}"
                    f" with labels {existing._labelnames}"
                )
            return existing
        metric = kind(name, documentation, labelnames, registry=registry, **options)  # type: ignore[arg-type]
        declared[name] = metric
        return metric
