"""Comparative judgement through the gateway: anchors, `cj_assessment`, ranks and grades.

The platform runs as real processes with the LLM provider's offline judge, as `make run` does.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from huleedu_client import TeacherClient, UploadFile

TeacherFactory = Callable[[str], Awaitable[TeacherClient]]

pytestmark = pytest.mark.functional

SAMPLE = Path(__file__).resolve().parents[2] / "sample"
GRADES = ["F", "E", "D", "C", "B", "A"]


async def register_sample_anchors(teacher: TeacherClient) -> str:
    assignment_id = f"phones-{uuid.uuid4().hex[:8]}"
    with (SAMPLE / "anchors" / "grades.csv").open() as grades:
        for row in csv.DictReader(grades):
            await teacher.register_anchor(
                assignment_id,
                grade_scale="swedish_f_a",
                grade=row["grade"],
                label=row["file"],
                text=(SAMPLE / "anchors" / row["file"]).read_text(),
            )
    return assignment_id


async def ready_batch(teacher: TeacherClient, files: list[UploadFile], **registration: Any) -> str:
    batch_id = str(
        (await teacher.register_batch(len(files), course_code="ENG5", **registration))["batch_id"]
    )
    await teacher.upload_files(batch_id, files)
    await teacher.wait_for_status(batch_id, ["ready"], within_s=120)
    return batch_id


async def run_pipeline(teacher: TeacherClient, batch_id: str, pipeline: str, after: int) -> int:
    """Start `pipeline` and follow the live events until it completes; returns the last seq."""
    await teacher.start_pipeline(batch_id, pipeline)
    last = after
    async with asyncio.timeout(600):
        async for event in teacher.events(batch_id, after=after, until="pipeline.completed"):
            assert event is not None
            assert event.seq == last + 1, "the stream skipped or repeated an event"
            last = event.seq
    return last


def phase_statuses(results: dict[str, Any]) -> dict[str, str]:
    return {p["phase"]: p["status"] for p in results["timings"]["phases"]}


async def test_cj_assessment_spellchecks_then_ranks_every_essay_with_a_projected_grade(
    teacher_factory: TeacherFactory,
) -> None:
    teacher = await teacher_factory("teacher-cj")
    assignment_id = await register_sample_anchors(teacher)
    anchors = await teacher.anchors(assignment_id)
    assert (anchors["grade_scale"], len(anchors["anchors"])) == ("swedish_f_a", 5)
    essays = sorted((SAMPLE / "essays").glob("*.txt"))
    batch_id = await ready_batch(
        teacher,
        [UploadFile.from_path(path) for path in essays],
        assignment_id=assignment_id,
        essay_instructions=(SAMPLE / "assignment.md").read_text(),
    )

    await run_pipeline(teacher, batch_id, "cj_assessment", after=0)

    status = await teacher.batch_status(batch_id)
    assert status["status"] == "completed_successfully", status
    results = await teacher.results(batch_id)
    assert phase_statuses(results) == {"spellcheck": "completed", "cj_assessment": "completed"}
    ranked = results["essays"]
    assert sorted(e["rank"] for e in ranked) == list(range(1, len(essays) + 1))
    assert sorted(e["file_name"] for e in ranked) == sorted(p.name for p in essays)
    for essay in ranked:
        assert essay["corrected_text_id"], essay
        assert essay["grade"] in GRADES, essay
        assert 0 < essay["grade_probability"] <= 1
        assert essay["standard_error"] > 0
        assert essay["comparison_count"] > 0
    # Ranks follow the scores, and grades never go up as the rank goes down.
    by_rank = sorted(ranked, key=lambda e: e["rank"])
    assert [e["score"] for e in by_rank] == sorted((e["score"] for e in by_rank), reverse=True)
    assert [GRADES.index(e["grade"]) for e in by_rank] == sorted(
        (GRADES.index(e["grade"]) for e in by_rank), reverse=True
    )
    assert len(results["anchors"]) == 5
    assert results["comparisons_completed"] > 0

    table = list(csv.DictReader(io.StringIO(await teacher.results_csv(batch_id))))
    assert [row["file_name"] for row in table] == [e["file_name"] for e in by_rank]


async def test_cj_after_a_completed_spellcheck_runs_cj_only(
    teacher_factory: TeacherFactory,
) -> None:
    teacher = await teacher_factory("teacher-cj-again")
    essays = sorted((SAMPLE / "essays").glob("*.txt"))[:4]
    batch_id = await ready_batch(teacher, [UploadFile.from_path(path) for path in essays])
    seen = await run_pipeline(teacher, batch_id, "spellcheck", after=0)
    first = await teacher.results(batch_id)
    spellchecked = {e["essay_id"]: e["corrected_text_id"] for e in first["essays"]}

    await run_pipeline(teacher, batch_id, "cj_assessment", after=seen)

    status = await teacher.batch_status(batch_id)
    assert status["status"] == "completed_successfully", status
    results = await teacher.results(batch_id)
    assert phase_statuses(results) == {"spellcheck": "skipped", "cj_assessment": "completed"}
    # The corrected texts of the first run are the ones that were ranked; nothing re-ran.
    assert {e["essay_id"]: e["corrected_text_id"] for e in results["essays"]} == spellchecked
    assert sorted(e["rank"] for e in results["essays"]) == [1, 2, 3, 4]
    assert all(e["grade"] is None for e in results["essays"])  # no anchors: no grades
