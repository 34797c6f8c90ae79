"""Starting a phase and ending a run: the two effects every pipeline step ends in.

Both run inside the caller's transaction with the batch row locked, so a phase is dispatched
once and a run completes once however many workers race (invariant 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from pydantic import BaseModel

from batch_orchestrator.domain.batch_state import BatchTrigger
from batch_orchestrator.domain.pipeline_run import PhaseState, finish_phase
from batch_orchestrator.metrics import (
    PHASE_DURATION,
    PHASES_DISPATCHED,
    PHASES_ENDED,
    PIPELINES_COMPLETED,
)
from batch_orchestrator.pipeline_repository import PipelineRepository, RunRecord
from batch_orchestrator.repository import BatchRecord, BatchRepository
from batch_orchestrator.transitions import apply_trigger
from common_core.events.base import EssayTextRef
from common_core.events.envelope import EventMetadata
from common_core.events.pipeline import (
    BatchCJAssessmentInitiateCommand,
    BatchPipelineCompleted,
    BatchSpellcheckInitiateCommand,
    PhaseSummary,
)
from common_core.status import BatchStatus, PhaseName
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger, traceparent_for_current_context

_log = get_logger(__name__)

_TRIGGER_FOR: dict[BatchStatus, BatchTrigger] = {
    BatchStatus.COMPLETED_SUCCESSFULLY: BatchTrigger.PIPELINE_SUCCEEDED,
    BatchStatus.COMPLETED_WITH_FAILURES: BatchTrigger.PIPELINE_COMPLETED_WITH_FAILURES,
    BatchStatus.FAILED: BatchTrigger.PIPELINE_FAILED,
}


def phase_command(
    phase: PhaseName, batch: BatchRecord, essays: Sequence[EssayTextRef]
) -> BaseModel:
    """The command that starts `phase` in ELS for these essays."""
    if phase is PhaseName.SPELLCHECK:
        return BatchSpellcheckInitiateCommand(
            batch_id=batch.batch_id, essays=list(essays), language=batch.language
        )
    if phase is PhaseName.CJ_ASSESSMENT:
        return BatchCJAssessmentInitiateCommand(
            batch_id=batch.batch_id,
            essays=list(essays),
            course_code=batch.course_code,
            language=batch.language,
            essay_instructions=batch.essay_instructions,
            assignment_id=batch.assignment_id,
        )
    raise ValueError(f"no command starts phase {phase}")


async def dispatch_phase(
    uow: UnitOfWork,
    run: RunRecord,
    batch: BatchRecord,
    phase: PhaseName,
    essays: Sequence[EssayTextRef],
    *,
    phase_timeout: timedelta,
) -> None:
    """Record the phase as dispatched (with its deadline) and its command in the outbox."""
    await PipelineRepository(uow.session).mark_dispatched(
        run.run_id, phase, essay_count=len(essays), phase_timeout=phase_timeout
    )
    await uow.publish(
        phase_command(phase, batch, essays),
        correlation_id=run.correlation_id,
        metadata=EventMetadata(traceparent=traceparent_for_current_context()),
    )
    PHASES_DISPATCHED.labels(phase.value).inc()
    _log.info(
        "phase_dispatched",
        batch_id=str(batch.batch_id),
        run_id=str(run.run_id),
        phase=phase.value,
        essay_count=len(essays),
    )


async def complete_run(
    uow: UnitOfWork,
    run: RunRecord,
    batch: BatchRecord,
    phases: Sequence[PhaseState],
    final_status: BatchStatus,
    *,
    failure_reason: str | None = None,
) -> None:
    """End the run, move the batch, and record `BatchPipelineCompleted` (once: callers end a
    run only while it is PROCESSING, under the batch lock)."""
    await PipelineRepository(uow.session).finish_run(run.run_id, final_status)
    if batch.status is BatchStatus.PROCESSING:
        await apply_trigger(
            BatchRepository(uow.session),
            batch,
            _TRIGGER_FOR[final_status],
            failure_reason=failure_reason,
        )
    await uow.publish(
        BatchPipelineCompleted(
            batch_id=batch.batch_id,
            requested_pipeline=run.requested_pipeline,
            final_status=final_status,
            phases=[
                PhaseSummary(
                    phase=p.phase,
                    status=p.status,
                    succeeded_count=p.succeeded_count,
                    failed_count=p.failed_count,
                )
                for p in phases
            ],
        ),
        correlation_id=run.correlation_id,
        metadata=EventMetadata(traceparent=traceparent_for_current_context()),
    )
    PIPELINES_COMPLETED.labels(run.requested_pipeline.value, final_status.value).inc()
    _log.info(
        "pipeline_completed",
        batch_id=str(batch.batch_id),
        run_id=str(run.run_id),
        final_status=final_status.value,
    )


async def end_phase(
    uow: UnitOfWork,
    run: RunRecord,
    phase: PhaseName,
    survivors: Sequence[EssayTextRef],
    *,
    failed_count: int,
    failure_reason: str | None,
    phase_timeout: timedelta,
) -> bool:
    """Finish the run's dispatched `phase`, then start the next phase with the survivors or
    complete the run. False (nothing changed) if `phase` is not dispatched in this run.

    The caller holds the batch's row lock.
    """
    pipelines = PipelineRepository(uow.session)
    step = finish_phase(
        await pipelines.phases(run.run_id),
        phase,
        succeeded_count=len(survivors),
        failed_count=failed_count,
        failure_reason=failure_reason,
    )
    if step.updated is None:
        _log.info(
            "phase_end_ignored",
            run_id=str(run.run_id),
            phase=phase.value,
            reason=step.ignored_because,
        )
        return False
    elapsed_s = await pipelines.record_phase_end(run.run_id, step.updated)
    PHASES_ENDED.labels(phase.value, step.updated.status.value).inc()
    if elapsed_s is not None:
        duration = PHASE_DURATION.labels(phase.value, step.updated.status.value)

        async def observe_duration() -> None:
            duration.observe(elapsed_s)

        # Only a committed end counts: a rolled-back attempt is retried and ends again.
        uow.after_commit(observe_duration)
    batch = await BatchRepository(uow.session).lock(run.batch_id)
    if batch is None:
        raise RuntimeError(f"batch {run.batch_id} of run {run.run_id} vanished")
    if step.next_phase is not None:
        await dispatch_phase(
            uow, run, batch, step.next_phase, survivors, phase_timeout=phase_timeout
        )
        return True
    assert step.final_status is not None
    await complete_run(
        uow,
        run,
        batch,
        await pipelines.phases(run.run_id),
        step.final_status,
        failure_reason=step.updated.failure_reason,
    )
    return True
