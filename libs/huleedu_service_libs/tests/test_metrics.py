"""Metrics are declared one way: prefixed names, one metric per name and registry."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from huleedu_service_libs.metrics import counter, gauge, histogram, metrics_response


def test_declaring_twice_returns_the_same_metric() -> None:
    registry = CollectorRegistry()
    first = counter("huleedu_widgets_built_total", "Widgets built.", ("kind",), registry=registry)
    again = counter("huleedu_widgets_built_total", "Widgets built.", ("kind",), registry=registry)
    assert again is first

    first.labels("round").inc()
    again.labels("round").inc()
    assert registry.get_sample_value("huleedu_widgets_built_total", {"kind": "round"}) == 2


def test_each_registry_has_its_own_metric() -> None:
    one, two = CollectorRegistry(), CollectorRegistry()
    gauge("huleedu_queue_depth", "Depth.", registry=one).set(3)
    gauge("huleedu_queue_depth", "Depth.", registry=two).set(5)
    assert one.get_sample_value("huleedu_queue_depth") == 3
    assert two.get_sample_value("huleedu_queue_depth") == 5


def test_conflicting_declarations_and_bad_names_are_rejected() -> None:
    registry = CollectorRegistry()
    counter("huleedu_jobs_total", "Jobs.", ("kind",), registry=registry)
    with pytest.raises(ValueError, match="already declared"):
        gauge("huleedu_jobs_total", "Jobs.", ("kind",), registry=registry)
    with pytest.raises(ValueError, match="already declared"):
        counter("huleedu_jobs_total", "Jobs.", ("status",), registry=registry)
    for bad in ("jobs_total", "huleedu_Jobs", "huleedu-jobs"):
        with pytest.raises(ValueError, match="huleedu_"):
            counter(bad, "Jobs.", registry=registry)


async def test_metrics_response_is_prometheus_text() -> None:
    registry = CollectorRegistry()
    histogram("huleedu_job_seconds", "Job time.", buckets=(0.1, 1.0), registry=registry).observe(
        0.5
    )
    response = metrics_response(registry)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    body = await response.get_data(as_text=True)
    assert 'huleedu_job_seconds_bucket{le="1.0"} 1.0' in body
    assert 'huleedu_job_seconds_bucket{le="0.1"} 0.0' in body
