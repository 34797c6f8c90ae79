"""Phase events: commands (a phase started), per-essay results, phase outcomes, CJ results
and the end of a pipeline.

Results and outcomes may arrive in any order: a per-essay result is the detailed truth (counts,
corrections, rank) and always lands; an outcome or summary only fills in what is still open,
so a late summary never overwrites a result and a late command never reopens a phase.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from common_core.errors import ErrorDetail
from common_core.events.cj import CJAssessmentFailed
from common_core.events.envelope import EventEnvelope
from common_core.events.pipeline import (
    BatchCJAssessmentInitiateCommand,
    BatchPipelineCompleted,
    BatchSpellcheckInitiateCommand,
    ELSBatchPhaseOutcome,
)
from common_core.events.results import AssessmentResult
from common_core.events.spellcheck import SpellcheckResult
from common_core.status import (
    CLIENT_STATUS_FOR,
    PHASE_ESSAY_STATUSES,
    EssayStatus,
    PhaseName,
    PhaseStatus,
)
from huleedu_service_libs.database import UnitOfWork
from result_aggregator.domain.folding import FINAL_ESSAY_STATUSES, after_phase_started, requested
from result_aggregator.domain.records import EssayRecord
from result_aggregator.recording import BatchChange, ProgressAnnouncer, ProgressKind

_STATUS_COLUMN = {PhaseName.SPELLCHECK: "spellcheck_status", PhaseName.CJ_ASSESSMENT: "cj_status"}
_FAILURE_COLUMNS = {
    PhaseName.SPELLCHECK: ("spellcheck_failure_code", "spellcheck_failure_message"),
    PhaseName.CJ_ASSESSMENT: ("cj_failure_code", "cj_failure_message"),
}


def _phase_status(essay: EssayRecord | None, phase: PhaseName) -> EssayStatus | None:
    if essay is None:
        return None
    status: EssayStatus | None = getattr(essay, _STATUS_COLUMN[phase])
    return status


def _failure_values(phase: PhaseName, error: ErrorDetail) -> dict[str, Any]:
    code, message = _FAILURE_COLUMNS[phase]
    return {code: error.code.value, message: error.message}


def _earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    """Timestamps of one moment seen through several events: the causally first wins, so the
    arrival order of the events does not change the recorded timings."""
    if first is None or second is None:
        return first or second
    return min(first, second)


async def _phase_started(
    change: BatchChange,
    envelope: EventEnvelope[Any],
    batch_id: UUID,
    phase: PhaseName,
    essay_ids: list[UUID],
) -> None:
    batch = await change.lock(batch_id)
    recorded = await change.model.phase(batch_id, phase)
    already_final = recorded is not None and recorded.status.is_final
    started_at = envelope.event_timestamp
    await change.model.upsert_phase(
        batch_id,
        phase,
        status=recorded.status if already_final and recorded else PhaseStatus.DISPATCHED,
        essay_count=len(essay_ids),
        started_at=_earliest(recorded.started_at if recorded else None, started_at),
    )
    # A command after a finished pipeline starts a new run (another pipeline on the batch).
    new_run = batch.pipeline_finished_at is not None and not already_final
    await change.model.update_batch(
        batch_id,
        status=after_phase_started(batch.status, phase_already_final=already_final),
        **(
            {"pipeline_started_at": started_at, "pipeline_finished_at": None}
            if new_run
            else {"pipeline_started_at": _earliest(batch.pipeline_started_at, started_at)}
        ),
    )
    known = await change.model.essays_by_id(batch_id)
    column = _STATUS_COLUMN[phase]
    await change.model.upsert_essays(
        batch_id,
        [
            {"essay_id": e, column: requested(_phase_status(known.get(e), phase), phase)}
            for e in essay_ids
        ],
    )
    await change.record(
        batch_id, ProgressKind.PHASE_STARTED, phase=phase.value, essay_count=len(essay_ids)
    )


async def handle_spellcheck_initiate(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    command: BatchSpellcheckInitiateCommand = envelope.data
    change = BatchChange(uow, announcer)
    await _phase_started(
        change,
        envelope,
        command.batch_id,
        PhaseName.SPELLCHECK,
        [e.essay_id for e in command.essays],
    )


async def handle_cj_assessment_initiate(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    command: BatchCJAssessmentInitiateCommand = envelope.data
    change = BatchChange(uow, announcer)
    await _phase_started(
        change,
        envelope,
        command.batch_id,
        PhaseName.CJ_ASSESSMENT,
        [e.essay_id for e in command.essays],
    )


async def handle_spellcheck_result(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    """The essay's own result: counts, corrections and corrected text, or its failure.

    If the phase outcome already closed the essay, its status stays what ELS decided (ELS
    ignores late results) and only the details are added.
    """
    result: SpellcheckResult = envelope.data
    change = BatchChange(uow, announcer)
    await change.lock(result.batch_id)
    existing = await change.model.essay(result.batch_id, result.essay_id)
    current = _phase_status(existing, PhaseName.SPELLCHECK)
    statuses = PHASE_ESSAY_STATUSES[PhaseName.SPELLCHECK]
    own = statuses.succeeded if result.succeeded else statuses.failed
    status = current if current in FINAL_ESSAY_STATUSES and current is not own else own
    values: dict[str, Any] = {
        "spellcheck_status": status,
        "spellcheck_result_at": envelope.event_timestamp,
        "error_counts": {str(k): v for k, v in result.error_counts.items()},
        "corrections": [c.model_dump(mode="json") for c in result.corrections],
        "original_text_id": (
            existing.original_text_id
            if existing is not None and existing.original_text_id
            else result.original_text_id
        ),
    }
    if result.corrected_text_id is not None:
        values["corrected_text_id"] = result.corrected_text_id
    if result.error is not None:
        values.update(_failure_values(PhaseName.SPELLCHECK, result.error))
    await change.model.upsert_essay(result.batch_id, result.essay_id, **values)
    if result.error is None:
        await change.record(
            result.batch_id,
            ProgressKind.ESSAY_SPELLCHECKED,
            essay_id=str(result.essay_id),
            total_corrections=result.total_corrections,
            error_counts=values["error_counts"],
        )
    else:
        await change.record(
            result.batch_id,
            ProgressKind.ESSAY_FAILED,
            essay_id=str(result.essay_id),
            phase=PhaseName.SPELLCHECK.value,
            code=result.error.code.value,
            message=result.error.message,
        )


async def _finish_phase(
    change: BatchChange,
    batch_id: UUID,
    phase: PhaseName,
    status: PhaseStatus,
    finished_at: datetime,
    *,
    succeeded: int,
    failed: int,
) -> None:
    """Record a phase's end, from ELS's outcome or from BOS's summary, whichever comes first."""
    recorded = await change.model.phase(batch_id, phase)
    kept = recorded is not None and recorded.status.is_final
    await change.model.upsert_phase(
        batch_id,
        phase,
        status=recorded.status if kept and recorded is not None else status,
        succeeded_count=(
            recorded.succeeded_count
            if recorded is not None and recorded.succeeded_count is not None
            else succeeded
        ),
        failed_count=(
            recorded.failed_count
            if recorded is not None and recorded.failed_count is not None
            else failed
        ),
        finished_at=_earliest(
            recorded.finished_at if recorded is not None else None,
            finished_at if status.is_final and status is not PhaseStatus.SKIPPED else None,
        ),
        started_at=recorded.started_at if recorded is not None else None,
        essay_count=(
            recorded.essay_count
            if recorded is not None and recorded.essay_count is not None
            else succeeded + failed
        ),
    )


async def handle_phase_outcome(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    outcome: ELSBatchPhaseOutcome = envelope.data
    change = BatchChange(uow, announcer)
    await change.lock(outcome.batch_id)
    statuses = PHASE_ESSAY_STATUSES[outcome.phase]
    column = _STATUS_COLUMN[outcome.phase]
    known = await change.model.essays_by_id(outcome.batch_id)

    def still_open(essay_id: UUID) -> bool:
        return _phase_status(known.get(essay_id), outcome.phase) not in FINAL_ESSAY_STATUSES

    await change.model.upsert_essays(
        outcome.batch_id,
        [
            {"essay_id": ref.essay_id, column: statuses.succeeded}
            | ({"corrected_text_id": ref.text_id} if outcome.phase is PhaseName.SPELLCHECK else {})
            for ref in outcome.succeeded_essays
            if still_open(ref.essay_id)
        ],
    )
    await change.model.upsert_essays(
        outcome.batch_id,
        [
            {"essay_id": failed.essay_id, column: statuses.failed}
            | _failure_values(outcome.phase, failed.error)
            for failed in outcome.failed_essays
            if still_open(failed.essay_id)
        ],
    )
    await _finish_phase(
        change,
        outcome.batch_id,
        outcome.phase,
        outcome.status,
        envelope.event_timestamp,
        succeeded=len(outcome.succeeded_essays),
        failed=len(outcome.failed_essays),
    )
    await change.record(
        outcome.batch_id,
        ProgressKind.PHASE_COMPLETED,
        phase=outcome.phase.value,
        status=outcome.status.value,
        succeeded=len(outcome.succeeded_essays),
        failed=len(outcome.failed_essays),
    )


async def handle_cj_assessment_failed(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    """Every essay still waiting for its rank fails CJ, with the batch's reason."""
    event: CJAssessmentFailed = envelope.data
    change = BatchChange(uow, announcer)
    await change.lock(event.batch_id)
    for essay in await change.model.essays_of(event.batch_id):
        if essay.cj_status is EssayStatus.CJ_REQUESTED:
            await change.model.upsert_essay(
                event.batch_id,
                essay.essay_id,
                cj_status=EssayStatus.CJ_FAILED,
                **_failure_values(PhaseName.CJ_ASSESSMENT, event.error),
            )
    await change.record(
        event.batch_id,
        ProgressKind.CJ_FAILED,
        code=event.error.code.value,
        message=event.error.message,
    )


async def handle_assessment_result(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    """Ranks, scores and grades; anchors are kept as anchors, never as a student's essay."""
    result: AssessmentResult = envelope.data
    change = BatchChange(uow, announcer)
    await change.lock(result.batch_id)
    await change.model.update_batch(
        result.batch_id,
        comparisons_completed=result.comparisons_completed,
        reliability=result.reliability,
    )
    await change.model.upsert_essays(
        result.batch_id,
        [
            {
                "essay_id": essay.essay_id,
                "is_anchor": essay.is_anchor,
                "cj_status": EssayStatus.CJ_COMPLETED,
                "cj_rank": essay.rank,
                "bt_score": essay.bt_score,
                "bt_standard_error": essay.bt_standard_error,
                "comparison_count": essay.comparison_count,
                "grade": essay.grade_projection.grade if essay.grade_projection else None,
                "grade_probability": (
                    essay.grade_projection.probability if essay.grade_projection else None
                ),
            }
            for essay in result.essays
        ],
    )
    anchors = sum(1 for e in result.essays if e.is_anchor)
    await change.record(
        result.batch_id,
        ProgressKind.CJ_RANKED,
        essays=len(result.essays) - anchors,
        anchors=anchors,
        comparisons=result.comparisons_completed,
    )


async def handle_pipeline_completed(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    event: BatchPipelineCompleted = envelope.data
    change = BatchChange(uow, announcer)
    batch = await change.lock(event.batch_id)
    for summary in event.phases:
        await _finish_phase(
            change,
            event.batch_id,
            summary.phase,
            summary.status,
            envelope.event_timestamp,
            succeeded=summary.succeeded_count,
            failed=summary.failed_count,
        )
    # A later pipeline already started a phase this one did not cover: this completion is
    # late news of the earlier run, and the batch stays as the later run has it.
    covered = {summary.phase for summary in event.phases}
    later_run = [
        phase
        for phase in PhaseName
        if phase not in covered
        and (recorded := await change.model.phase(event.batch_id, phase)) is not None
        and recorded.status is PhaseStatus.DISPATCHED
    ]
    if not later_run:
        await change.model.update_batch(
            event.batch_id,
            status=event.final_status,
            requested_pipeline=event.requested_pipeline,
            pipeline_finished_at=envelope.event_timestamp,
            pipeline_started_at=_earliest(batch.pipeline_started_at, envelope.event_timestamp),
            skipped_phases=[
                summary.phase.value
                for summary in event.phases
                if summary.status is PhaseStatus.SKIPPED
            ],
        )
    await change.record(
        event.batch_id,
        ProgressKind.PIPELINE_COMPLETED,
        pipeline=event.requested_pipeline.value,
        status=CLIENT_STATUS_FOR[event.final_status].value,
    )
