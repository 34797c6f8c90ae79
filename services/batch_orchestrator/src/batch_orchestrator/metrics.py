"""BOS's own Prometheus metrics (HTTP and consumer metrics come from the shared libraries)."""

from __future__ import annotations

from huleedu_service_libs import metrics

BATCHES_REGISTERED = metrics.counter(
    "huleedu_bos_batches_registered_total",
    "Batches registered, by essay language.",
    ("language",),
)
BATCH_TRANSITIONS = metrics.counter(
    "huleedu_bos_batch_transitions_total",
    "Batch status changes, by trigger and new status.",
    ("trigger", "status"),
)
TRIGGERS_NOT_APPLIED = metrics.counter(
    "huleedu_bos_batch_triggers_not_applied_total",
    "Triggers that changed nothing: ignored (late, duplicate, terminal) or rejected.",
    ("trigger", "verdict"),
)
