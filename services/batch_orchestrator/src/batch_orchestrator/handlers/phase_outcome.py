"""`ELSBatchPhaseOutcome`: record the phase's result and move the run on."""

from __future__ import annotations

from datetime import timedelta

from batch_orchestrator.errors import UnknownBatchError
from batch_orchestrator.pipeline_execution import end_phase
from batch_orchestrator.pipeline_repository import PipelineRepository
from batch_orchestrator.repository import BatchRepository
from common_core.events.envelope import EventEnvelope
from common_core.events.pipeline import ELSBatchPhaseOutcome
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)


async def handle_phase_outcome(
    envelope: EventEnvelope[ELSBatchPhaseOutcome], uow: UnitOfWork, *, phase_timeout: timedelta
) -> None:
    """Applies only to the phase the running run has dispatched; anything else (a duplicate, a
    late outcome after a timeout, an outcome of an earlier run) is a logged no-op.

    Decided under the batch's row lock, so racing duplicates dispatch one next phase and emit
    one `BatchPipelineCompleted`.
    """
    event = envelope.data
    batches = BatchRepository(uow.session)
    pipelines = PipelineRepository(uow.session)
    batch = await batches.lock(event.batch_id)
    if batch is None:
        raise UnknownBatchError(event.batch_id)
    run = await pipelines.running(batch.batch_id)
    if run is None:
        _log.info("phase_outcome_ignored", phase=event.phase.value, reason="no pipeline running")
        return
    known = set(await batches.essay_ids(batch.batch_id))
    succeeded = [e for e in event.succeeded_essays if e.essay_id in known]
    failed = [e for e in event.failed_essays if e.essay_id in known]
    if len(succeeded) + len(failed) < len(event.succeeded_essays) + len(event.failed_essays):
        _log.warning("essays_not_in_batch_ignored", phase=event.phase.value)
    applied = await end_phase(
        uow,
        run,
        event.phase,
        succeeded,
        failed_count=len(failed),
        failure_reason=None if succeeded else _no_survivors_reason(event),
        phase_timeout=phase_timeout,
    )
    if applied:
        await pipelines.record_phase_essays(batch.batch_id, event.phase, succeeded, failed)


def _no_survivors_reason(event: ELSBatchPhaseOutcome) -> str:
    if not event.failed_essays:
        return f"the {event.phase.value} outcome named no essay of this batch"
    codes = sorted({essay.error.code.value for essay in event.failed_essays})
    return f"every essay failed {event.phase.value} ({', '.join(codes)})"
