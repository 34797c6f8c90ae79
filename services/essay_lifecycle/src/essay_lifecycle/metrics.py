"""ELS metrics for intake and phases, counted by the worker (served on its `METRICS_PORT`)."""

from __future__ import annotations

from prometheus_client import Counter

UPLOADS_PLACED_TOTAL = Counter(
    "huleedu_els_uploads_placed_total",
    "Uploads received by ELS, by kind and where they went (slot, pending, excess, duplicate).",
    ["kind", "placement"],
)
SLOT_LOCK_RETRIES_TOTAL = Counter(
    "huleedu_els_slot_lock_retries_total",
    "Slot statements retried because every free slot was locked by another transaction.",
)
INTAKE_COMPLETED_TOTAL = Counter(
    "huleedu_els_intake_completed_total",
    "Batches whose intake completed (every slot filled or failed).",
)
PHASE_COMMANDS_TOTAL = Counter(
    "huleedu_els_phase_commands_total",
    "Phase commands by phase and what they did (started, or duplicate of a started phase).",
    ["phase", "result"],
)
PHASE_RESULTS_TOTAL = Counter(
    "huleedu_els_phase_results_total",
    "Per-essay phase results by phase and handling (applied, or ignored: not_in_phase for an"
    " essay the phase does not hold, not_requested for a duplicate or late result).",
    ["phase", "handling"],
)
PHASE_OUTCOMES_TOTAL = Counter(
    "huleedu_els_phase_outcomes_total",
    "ELSBatchPhaseOutcome events emitted, by phase and phase status.",
    ["phase", "status"],
)
