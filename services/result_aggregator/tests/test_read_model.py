"""A whole batch folded into the read model: status, results, timings, anchors, progress."""

from __future__ import annotations

from typing import Any

import pytest
from result_aggregator.domain.teacher_view import essay_detail, results_view, status_view

from common_core.events.essay import EssaySlotAssigned, EssayValidationFailed
from common_core.events.pipeline import BatchPipelineCompleted, PhaseSummary
from common_core.events.spellcheck import SpellcheckResult
from common_core.status import BatchStatus, EssayStatus, PhaseName, PhaseStatus

from .conftest import Ras, Story, envelope, story

pytestmark = pytest.mark.integration


async def test_intake_shows_accepted_rejected_and_surplus_files_before_any_pipeline(
    ras: Ras,
) -> None:
    told = story(pipeline=False)
    for event in told.events[:2]:  # registration and the rejected file, intake still open
        await ras.handle(event)
    early = status_view(await ras.facts(told.batch_id))
    assert early.status == "pending_content"
    assert [(e.file_name, e.status) for e in early.essays] == [
        ("bad.pdf", EssayStatus.VALIDATION_FAILED),
        (None, EssayStatus.AWAITING_CONTENT),
        (None, EssayStatus.AWAITING_CONTENT),
        (None, EssayStatus.AWAITING_CONTENT),
    ]

    for event in told.events[2:]:
        await ras.handle(event)
    view = status_view(await ras.facts(told.batch_id))
    assert view.status == "ready"
    assert view.counts.model_dump() == {"expected": 4, "provisioned": 3, "failed": 1, "excess": 1}
    assert [(e.file_name, e.status) for e in view.essays] == [
        ("b.txt", EssayStatus.READY_FOR_PROCESSING),
        ("a.txt", EssayStatus.READY_FOR_PROCESSING),
        ("c.txt", EssayStatus.READY_FOR_PROCESSING),
        ("bad.pdf", EssayStatus.VALIDATION_FAILED),
    ]
    failed = view.essays[3]
    assert failed.essay_id == told.essay_ids[3]
    assert failed.failure is not None
    assert failed.failure.code == "encrypted_file"
    assert [f.file_name for f in view.excess_files] == ["surplus.txt"]


async def test_finished_pipeline_gives_ranks_grades_counts_failures_and_timings(ras: Ras) -> None:
    told = story()
    for event in told.events:
        await ras.handle(event)
    facts = await ras.facts(told.batch_id)

    status = status_view(facts)
    assert status.status == "completed_with_failures"
    spell = {e.file_name: e.phases[0] for e in status.essays if e.phases}
    assert spell["b.txt"].details == {"error_counts": {"spelling": 2}, "total_corrections": 2}
    assert spell["c.txt"].status == EssayStatus.SPELLCHECK_FAILED

    results = results_view(facts)
    assert [(r.file_name, r.rank, r.grade) for r in results.essays] == [
        ("a.txt", 1, "B"),
        ("b.txt", 2, "C"),
        ("bad.pdf", None, None),
        ("c.txt", None, None),
    ]
    best = results.essays[0]
    assert (best.score, best.standard_error, best.grade_probability) == (0.5, 0.5, 0.6)
    assert best.total_corrections == 1
    assert best.corrected_text_id is not None
    assert [(f.phase, f.code) for f in results.essays[3].failures] == [
        ("spellcheck", "content_unavailable")
    ]
    assert [(f.phase, f.code) for f in results.essays[2].failures] == [("intake", "encrypted_file")]
    assert [(a.essay_id, a.rank, a.grade) for a in results.anchors] == [(told.anchor_id, 1, "A")]
    assert told.anchor_id not in {e.essay_id for e in status.essays}
    assert results.comparisons_completed == 3
    assert results.reliability == 0.8

    timings = results.timings
    assert timings.requested_pipeline == "cj_assessment"
    assert timings.duration_s == 12.0  # first command at +10 s, completion at +22 s
    assert [(p.phase, p.status, p.duration_s) for p in timings.phases] == [
        ("spellcheck", "completed_with_failures", 3.0),
        ("cj_assessment", "completed", 7.0),
    ]

    essay = next(e for e in facts.essays if e.essay_id == told.essay_ids[0])
    detail = essay_detail(facts, essay)
    assert [(c.start, c.end, c.original, c.corrected) for c in detail.corrections] == [
        (0, 3, "Teh", "The"),
        (8, 15, "becouse", "because"),
    ]
    assert detail.original_text_id is not None


async def test_completed_is_shown_only_once_every_essay_result_is_in(ras: Ras) -> None:
    """BOS's completion may overtake the per-essay results it summarises (other topics)."""
    told = story()
    results = [e for e in told.events if isinstance(e.data, SpellcheckResult)]
    for event in told.events:
        if event not in results:
            await ras.handle(event)
    assert status_view(await ras.facts(told.batch_id)).status == "processing"
    for event in results:
        await ras.handle(event)
    assert status_view(await ras.facts(told.batch_id)).status == "completed_with_failures"


async def test_progress_log_numbers_every_change_from_one_without_gaps(ras: Ras) -> None:
    told = story()
    for event in told.events:
        await ras.handle(event)
    progress = await ras.progress(told.batch_id)
    assert [p.seq for p in progress] == list(range(1, len(told.events) + 1))
    assert [p.kind for p in progress][:2] == ["batch.registered", "file.rejected"]
    assert progress[-1].kind == "pipeline.completed"
    assert progress[-1].data == {"pipeline": "cj_assessment", "status": "completed_with_failures"}


async def test_ready_is_shown_only_once_every_file_of_the_intake_is_in(ras: Ras) -> None:
    """ELS's `BatchEssaysReady` may overtake file_service's rejection and ELS's own slot events
    (other topics): until they are in, the batch still reads as receiving content."""
    told = story(pipeline=False)
    late = [e for e in told.events if isinstance(e.data, EssayValidationFailed)]
    late.append(next(e for e in told.events if isinstance(e.data, EssaySlotAssigned)))
    for event in told.events:
        if event not in late:
            await ras.handle(event)
    assert status_view(await ras.facts(told.batch_id)).status == "pending_content"
    await ras.handle(late[0])
    assert status_view(await ras.facts(told.batch_id)).status == "pending_content"
    await ras.handle(late[1])
    view = status_view(await ras.facts(told.batch_id))
    assert view.status == "ready"
    assert all(e.file_name for e in view.essays)


def two_runs(told: Story) -> tuple[list[Any], Any, list[Any], Any]:
    """The story as two pipelines: spellcheck, then cj_assessment (spellcheck skipped)."""
    spellcheck_run, cj_run = told.events[8:13], told.events[13:16]
    first_done = envelope(
        BatchPipelineCompleted(
            batch_id=told.batch_id,
            requested_pipeline=PhaseName.SPELLCHECK,
            final_status=BatchStatus.COMPLETED_WITH_FAILURES,
            phases=[
                PhaseSummary(
                    phase=PhaseName.SPELLCHECK,
                    status=PhaseStatus.COMPLETED_WITH_FAILURES,
                    succeeded_count=2,
                    failed_count=1,
                )
            ],
        ),
        "batch_orchestrator",
        13,
    )
    second_done = envelope(
        BatchPipelineCompleted(
            batch_id=told.batch_id,
            requested_pipeline=PhaseName.CJ_ASSESSMENT,
            final_status=BatchStatus.COMPLETED_SUCCESSFULLY,
            phases=[
                PhaseSummary(
                    phase=PhaseName.SPELLCHECK,
                    status=PhaseStatus.SKIPPED,
                    succeeded_count=0,
                    failed_count=0,
                ),
                PhaseSummary(
                    phase=PhaseName.CJ_ASSESSMENT,
                    status=PhaseStatus.COMPLETED,
                    succeeded_count=2,
                    failed_count=0,
                ),
            ],
        ),
        "batch_orchestrator",
        22,
    )
    return [*told.events[:8], *spellcheck_run], first_done, cj_run, second_done


async def test_a_second_pipeline_is_timed_on_its_own(ras: Ras) -> None:
    told = story()
    first, first_done, second, second_done = two_runs(told)
    for event in [*first, first_done]:
        await ras.handle(event)
    first_results = results_view(await ras.facts(told.batch_id))
    assert [(p.phase, p.status) for p in first_results.timings.phases] == [
        ("spellcheck", "completed_with_failures"),
    ]
    for event in [*second, second_done]:
        await ras.handle(event)
    results = results_view(await ras.facts(told.batch_id))
    assert results.status == "completed_successfully"
    assert results.timings.requested_pipeline == "cj_assessment"
    assert results.timings.duration_s == 8.0  # cj command at +14 s, completion at +22 s
    # The second run did not spellcheck again: BOS reported the phase skipped.
    assert [(p.phase, p.status) for p in results.timings.phases] == [
        ("spellcheck", "skipped"),
        ("cj_assessment", "completed"),
    ]
    assert results.timings.phases[0].duration_s is None


async def test_late_news_of_an_earlier_pipeline_does_not_end_the_running_one(ras: Ras) -> None:
    told = story()
    first, first_done, second, second_done = two_runs(told)
    for event in [*first, second[0], first_done]:  # the cj command overtook run 1's completion
        await ras.handle(event)
    assert status_view(await ras.facts(told.batch_id)).status == "processing"
    for event in [*second[1:], second_done]:
        await ras.handle(event)
    assert status_view(await ras.facts(told.batch_id)).status == "completed_successfully"
