"""The results table as CSV: one row per student essay, best first, for a spreadsheet."""

from __future__ import annotations

import csv
import io

from common_core.read_model import BatchResults, EssayResult

CSV_COLUMNS = (
    "rank",
    "file_name",
    "grade",
    "grade_probability",
    "score",
    "standard_error",
    "comparison_count",
    "total_corrections",
    "spelling",
    "learner_error",
    "capitalization",
    "punctuation",
    "status",
    "failures",
    "essay_id",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A cell value; text a spreadsheet would run as a formula is quoted with `'`."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _row(essay: EssayResult) -> list[str]:
    counts = essay.error_counts
    return [
        _cell(essay.rank),
        _cell(essay.file_name),
        _cell(essay.grade),
        _cell(essay.grade_probability),
        _cell(essay.score),
        _cell(essay.standard_error),
        _cell(essay.comparison_count),
        _cell(essay.total_corrections),
        *(_cell(counts.get(c)) for c in CSV_COLUMNS[8:12]),
        _cell(essay.status.value),
        _cell("; ".join(f"{f.phase}: {f.code.value}: {f.message}" for f in essay.failures)),
        _cell(essay.essay_id),
    ]


def results_csv(results: BatchResults) -> str:
    """Header row, then the student essays ordered by rank (unranked last), then file name."""
    ordered = sorted(results.essays, key=lambda e: (e.rank is None, e.rank or 0, e.file_name or ""))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_row(essay) for essay in ordered)
    return buffer.getvalue()


def csv_file_name(results: BatchResults) -> str:
    return f"huleedu-results-{results.batch_id}.csv"
