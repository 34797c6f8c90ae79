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
PHASES_DISPATCHED = metrics.counter(
    "huleedu_bos_phases_dispatched_total",
    "Phase commands sent to ELS, by phase.",
    ("phase",),
)
PHASES_ENDED = metrics.counter(
    "huleedu_bos_phases_ended_total",
    "Phases that ended (outcome or timeout), by phase and status.",
    ("phase", "status"),
)
PIPELINES_COMPLETED = metrics.counter(
    "huleedu_bos_pipelines_completed_total",
    "Pipeline runs that ended, by requested pipeline and final status.",
    ("requested_pipeline", "final_status"),
)
PHASE_TIMEOUTS = metrics.counter(
    "huleedu_bos_phase_timeouts_total",
    "Phases the monitor failed because no outcome arrived by the deadline.",
    ("phase",),
)
PHASE_DURATION = metrics.histogram(
    "huleedu_bos_phase_duration_seconds",
    "Time from a phase's dispatch to its end (outcome or timeout), by phase and status.",
    ("phase", "status"),
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800),
)
