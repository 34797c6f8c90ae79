"""file_service's own Prometheus metrics (HTTP metrics come from the shared app factory)."""

from __future__ import annotations

from huleedu_service_libs import metrics

FILES_PROCESSED = metrics.counter(
    "huleedu_file_uploads_total",
    "Uploaded files by outcome, detected format and rejection reason.",
    ("outcome", "file_format", "reason"),
)
EXTRACTION_SECONDS = metrics.histogram(
    "huleedu_file_extraction_seconds",
    "Time to extract and validate the text of one file, by detected format.",
    ("file_format",),
)
