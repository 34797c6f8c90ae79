"""`ClientBatchPipelineRequest`: resolve the pipeline and start its first phase."""

from __future__ import annotations

from datetime import timedelta

from batch_orchestrator.domain.batch_state import BatchTrigger, Verdict
from batch_orchestrator.domain.conductor import PIPELINES
from batch_orchestrator.domain.pipeline_run import PhaseState, first_to_dispatch
from batch_orchestrator.errors import UnknownBatchError
from batch_orchestrator.pipeline_execution import complete_run, dispatch_phase, end_phase
from batch_orchestrator.pipeline_repository import PipelineRepository, RunRecord
from batch_orchestrator.repository import BatchRepository
from batch_orchestrator.transitions import apply_trigger
from common_core.events.envelope import EventEnvelope
from common_core.events.pipeline import ClientBatchPipelineRequest
from common_core.status import BatchStatus
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)

NO_USABLE_ESSAYS = "no usable essay to process"


async def handle_pipeline_request(
    envelope: EventEnvelope[ClientBatchPipelineRequest],
    uow: UnitOfWork,
    *,
    phase_timeout: timedelta,
) -> None:
    """Start a run under the batch's row lock; a request that cannot start is a logged no-op.

    The run's id is the request's event id, so a redelivered request finds its run and does
    nothing, even after that run has ended.
    """
    event = envelope.data
    batches = BatchRepository(uow.session)
    pipelines = PipelineRepository(uow.session)
    batch = await batches.lock(event.batch_id)
    if batch is None:
        raise UnknownBatchError(event.batch_id)
    if await pipelines.run(envelope.event_id) is not None:
        _log.info("pipeline_request_already_handled", run_id=str(envelope.event_id))
        return
    running = await pipelines.running(batch.batch_id)
    if running is not None:
        _log.warning(
            "pipeline_request_rejected",
            reason="a pipeline is already running",
            running_run_id=str(running.run_id),
        )
        return
    resolved = PIPELINES.resolve(
        event.requested_pipeline, await pipelines.completed_phases(batch.batch_id)
    )
    phases = [PhaseState(phase=phase, status=status) for phase, status in resolved]
    first = first_to_dispatch(phases)
    run = RunRecord(
        run_id=envelope.event_id,
        batch_id=batch.batch_id,
        requested_pipeline=event.requested_pipeline,
        status=BatchStatus.PROCESSING,
        correlation_id=envelope.correlation_id,
    )
    if first is None:
        if batch.status not in {
            BatchStatus.COMPLETED_SUCCESSFULLY,
            BatchStatus.COMPLETED_WITH_FAILURES,
        }:
            _log.warning("pipeline_request_rejected", reason=f"the batch is {batch.status}")
            return
        # Every phase was done before: the run ends at once and the batch keeps its status.
        await pipelines.create_run(run, resolved)
        await complete_run(uow, run, batch, phases, batch.status)
        return
    decision = await apply_trigger(batches, batch, BatchTrigger.PIPELINE_STARTED)
    if decision.verdict is not Verdict.APPLY:
        _log.warning("pipeline_request_rejected", reason=decision.reason)
        return
    await pipelines.create_run(run, resolved)
    essays = await pipelines.usable_essays(batch.batch_id)
    if essays:
        await dispatch_phase(uow, run, batch, first, essays, phase_timeout=phase_timeout)
        return
    await pipelines.mark_dispatched(run.run_id, first, essay_count=0, phase_timeout=phase_timeout)
    await end_phase(
        uow,
        run,
        first,
        [],
        failed_count=0,
        failure_reason=NO_USABLE_ESSAYS,
        phase_timeout=phase_timeout,
    )
