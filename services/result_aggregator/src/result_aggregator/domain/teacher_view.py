"""The teacher's views of a batch, built from its recorded facts (pure, no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common_core.errors import ErrorCode
from common_core.read_model import (
    AnchorResult,
    BatchResults,
    BatchStatusView,
    BatchSummary,
    Correction,
    EssayCounts,
    EssayFailure,
    EssayPhase,
    EssayResult,
    EssayResultDetail,
    EssayState,
    ExcessFile,
    PhaseFailure,
    PhaseTiming,
    PipelineTimings,
)
from common_core.status import (
    CLIENT_STATUS_FOR,
    BatchClientStatus,
    EssayStatus,
    PhaseName,
    PhaseStatus,
)
from result_aggregator.domain.folding import (
    Placement,
    latest_status,
    place_files,
    student_ranks,
    visible_batch_status,
)
from result_aggregator.domain.records import BatchFacts, EssayRecord, PhaseRecord

PHASE_ORDER = (PhaseName.SPELLCHECK, PhaseName.CJ_ASSESSMENT)


def _failure(code: str | None, message: str | None) -> EssayFailure | None:
    if code is None:
        return None
    return EssayFailure(code=ErrorCode(code), message=message or "")


def _placement(facts: BatchFacts) -> Placement:
    return place_files(
        facts.essays, facts.rejected, intake_complete=facts.batch.intake_completed_at is not None
    )


def _counts(facts: BatchFacts, placement: Placement) -> EssayCounts:
    return EssayCounts(
        expected=facts.batch.expected_essay_count or 0,
        provisioned=sum(1 for s in placement.slots if s.essay.file_upload_id is not None),
        failed=sum(1 for s in placement.slots if s.failure_code is not None),
        excess=len(facts.excess) + len(placement.excess_failures),
    )


def _excess(facts: BatchFacts, placement: Placement) -> list[ExcessFile]:
    valid = [
        ExcessFile(file_upload_id=f.file_upload_id, file_name=f.file_name) for f in facts.excess
    ]
    failed = [
        ExcessFile(
            file_upload_id=f.file_upload_id,
            file_name=f.file_name,
            failure=_failure(f.reason, f.message),
        )
        for f in placement.excess_failures
    ]
    return valid + failed


def client_status(facts: BatchFacts) -> BatchClientStatus:
    return CLIENT_STATUS_FOR[visible_batch_status(facts.batch.status, facts.essays, facts.rejected)]


def batch_summary(facts: BatchFacts) -> BatchSummary:
    counts = _counts(facts, _placement(facts))
    batch = facts.batch
    return BatchSummary(
        batch_id=batch.batch_id,
        title=batch.title,
        course_code=batch.course_code or "",
        class_id=batch.class_id,
        status=client_status(facts),
        expected_essay_count=counts.expected,
        provisioned_count=counts.provisioned,
        failed_count=counts.failed,
        excess_count=counts.excess,
        created_at=batch.created_at,
        updated_at=batch.updated_at,
    )


def _spellcheck_details(essay: EssayRecord) -> dict[str, Any] | None:
    if essay.spellcheck_result_at is None or essay.spellcheck_failure_code is not None:
        return None
    return {
        "error_counts": dict(essay.error_counts or {}),
        "total_corrections": len(essay.corrections or []),
    }


def _phases(essay: EssayRecord, ranks: dict[object, int]) -> list[EssayPhase]:
    phases = []
    if essay.spellcheck_status is not None:
        phases.append(
            EssayPhase(
                phase=PhaseName.SPELLCHECK,
                status=essay.spellcheck_status,
                text_id=essay.corrected_text_id,
                failure=_failure(essay.spellcheck_failure_code, essay.spellcheck_failure_message),
                details=_spellcheck_details(essay),
            )
        )
    if essay.cj_status is not None:
        phases.append(
            EssayPhase(
                phase=PhaseName.CJ_ASSESSMENT,
                status=essay.cj_status,
                failure=_failure(essay.cj_failure_code, essay.cj_failure_message),
                details=(
                    None
                    if essay.cj_rank is None
                    else {
                        "rank": ranks.get(essay.essay_id),
                        "score": essay.bt_score,
                        "standard_error": essay.bt_standard_error,
                        "grade": essay.grade,
                        "grade_probability": essay.grade_probability,
                    }
                ),
            )
        )
    return phases


def status_view(facts: BatchFacts) -> BatchStatusView:
    placement = _placement(facts)
    ranks = student_ranks(facts.essays)
    return BatchStatusView(
        batch_id=facts.batch.batch_id,
        status=client_status(facts),
        title=facts.batch.title,
        course_code=facts.batch.course_code or "",
        counts=_counts(facts, placement),
        essays=[
            EssayState(
                essay_id=slot.essay.essay_id,
                file_name=slot.file_name,
                status=slot.status,
                failure=_failure(slot.failure_code, slot.failure_message),
                phases=_phases(slot.essay, ranks),
            )
            for slot in placement.slots
        ],
        excess_files=_excess(facts, placement),
    )


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _timing(phase: PhaseRecord) -> PhaseTiming:
    return PhaseTiming(
        phase=phase.phase,
        status=phase.status,
        started_at=phase.started_at,
        finished_at=phase.finished_at,
        duration_s=_seconds(phase.started_at, phase.finished_at),
        succeeded_count=phase.succeeded_count,
        failed_count=phase.failed_count,
    )


def timings(facts: BatchFacts) -> PipelineTimings:
    phases = sorted(facts.phases, key=lambda p: PHASE_ORDER.index(p.phase))
    batch = facts.batch
    return PipelineTimings(
        requested_pipeline=batch.requested_pipeline,
        started_at=batch.pipeline_started_at,
        finished_at=batch.pipeline_finished_at,
        duration_s=_seconds(batch.pipeline_started_at, batch.pipeline_finished_at),
        phases=[
            _skipped(p) if p.phase.value in batch.skipped_phases else _timing(p)
            for p in phases
            if p.status is not PhaseStatus.PENDING or p.started_at
        ],
    )


def _skipped(phase: PhaseRecord) -> PhaseTiming:
    """A phase the last pipeline did not run because an earlier run had completed it."""
    return PhaseTiming(
        phase=phase.phase, status=PhaseStatus.SKIPPED, started_at=None, finished_at=None
    )


def essay_result(
    essay: EssayRecord,
    ranks: dict[object, int],
    *,
    file_name: str | None,
    status: EssayStatus,
    intake_failure: tuple[str | None, str | None] = (None, None),
) -> EssayResult:
    failures = []
    for phase, (code, message) in (
        ("intake", intake_failure),
        ("spellcheck", (essay.spellcheck_failure_code, essay.spellcheck_failure_message)),
        ("cj_assessment", (essay.cj_failure_code, essay.cj_failure_message)),
    ):
        if code is not None:
            failures.append(PhaseFailure(phase=phase, code=ErrorCode(code), message=message or ""))
    return EssayResult(
        essay_id=essay.essay_id,
        file_name=file_name,
        status=status,
        spellcheck_status=essay.spellcheck_status,
        cj_status=essay.cj_status,
        original_text_id=essay.original_text_id,
        corrected_text_id=essay.corrected_text_id,
        error_counts=dict(essay.error_counts or {}),
        total_corrections=(
            len(essay.corrections or []) if essay.spellcheck_result_at is not None else None
        ),
        rank=ranks.get(essay.essay_id),
        score=essay.bt_score,
        standard_error=essay.bt_standard_error,
        comparison_count=essay.comparison_count,
        grade=essay.grade,
        grade_probability=essay.grade_probability,
        failures=failures,
    )


def results_view(facts: BatchFacts) -> BatchResults:
    placement = _placement(facts)
    ranks = student_ranks(facts.essays)
    rows = [
        essay_result(
            slot.essay,
            ranks,
            file_name=slot.file_name,
            status=slot.status,
            intake_failure=(slot.failure_code, slot.failure_message),
        )
        for slot in placement.slots
    ]
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.file_name or "", str(r.essay_id)))
    anchors = sorted(
        (e for e in facts.essays if e.is_anchor and e.cj_rank is not None),
        key=lambda e: e.cj_rank or 0,
    )
    return BatchResults(
        batch_id=facts.batch.batch_id,
        status=client_status(facts),
        title=facts.batch.title,
        course_code=facts.batch.course_code or "",
        comparisons_completed=facts.batch.comparisons_completed,
        reliability=facts.batch.reliability,
        timings=timings(facts),
        essays=rows,
        anchors=[
            AnchorResult(
                essay_id=a.essay_id,
                rank=a.cj_rank or 0,
                score=a.bt_score or 0.0,
                standard_error=a.bt_standard_error or 0.0,
                grade=a.grade,
                grade_probability=a.grade_probability,
            )
            for a in anchors
        ],
        excess_files=_excess(facts, placement),
    )


def essay_detail(facts: BatchFacts, essay: EssayRecord) -> EssayResultDetail:
    placement = _placement(facts)
    slot = next((s for s in placement.slots if s.essay.essay_id == essay.essay_id), None)
    base = essay_result(
        essay,
        student_ranks(facts.essays),
        file_name=slot.file_name if slot else essay.file_name,
        status=slot.status if slot else latest_status(essay),
        intake_failure=(slot.failure_code, slot.failure_message) if slot else (None, None),
    )
    return EssayResultDetail(
        **base.model_dump(),
        corrections=[Correction.model_validate(c) for c in essay.corrections or []],
    )
