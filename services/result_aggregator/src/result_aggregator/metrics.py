"""RAS metrics (exposed on `/metrics` by the HTTP app, counted by the worker)."""

from __future__ import annotations

from prometheus_client import Counter

PROGRESS_RECORDED_TOTAL = Counter(
    "huleedu_ras_progress_recorded_total",
    "Progress events recorded in the per-batch log, by kind.",
    ["kind"],
)
PROGRESS_ANNOUNCE_FAILED_TOTAL = Counter(
    "huleedu_ras_progress_announce_failed_total",
    "Progress announcements Redis did not take (listeners recover from the log).",
)
