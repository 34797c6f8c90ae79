"""cj_assessment's own Prometheus metrics (HTTP and consumer metrics come from the libraries)."""

from __future__ import annotations

from huleedu_service_libs import metrics

COMPARISONS_REQUESTED = metrics.counter(
    "huleedu_cj_comparisons_requested_total",
    "Comparison requests sent to the LLM provider, first asks and retries.",
    ("kind",),
)
COMPARISONS_COMPLETED = metrics.counter(
    "huleedu_cj_comparisons_completed_total", "Comparison results recorded as valid judgements."
)
COMPARISONS_FAILED = metrics.counter(
    "huleedu_cj_comparisons_failed_total",
    "Comparisons that got an error result on their last retry: excluded from the scale.",
)
RESULTS_IGNORED = metrics.counter(
    "huleedu_cj_results_ignored_total",
    "Comparison results that changed nothing: unknown request, duplicate, or late.",
    ("reason",),
)
WAVES = metrics.counter("huleedu_cj_waves_total", "Waves of comparison requests sent.")
BATCHES_STARTED = metrics.counter("huleedu_cj_batches_started_total", "CJ batches started.")
BATCHES_FINALISED = metrics.counter(
    "huleedu_cj_batches_finalised_total",
    "CJ batches that ended, by outcome (completed, failed) and reason.",
    ("outcome", "reason"),
)
ANCHORS_REGISTERED = metrics.counter(
    "huleedu_cj_anchors_registered_total", "Anchor essays registered, by grade scale.", ("scale",)
)
