"""`BatchEssaysReady`: intake is over; the batch becomes ready, or fails if nothing is usable."""

from __future__ import annotations

from collections import Counter

from batch_orchestrator.domain.batch_state import BatchTrigger
from batch_orchestrator.errors import UnknownBatchError
from batch_orchestrator.repository import BatchRepository
from batch_orchestrator.transitions import apply_trigger
from common_core.events.batch import BatchEssaysReady
from common_core.events.envelope import EventEnvelope
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)


def no_usable_essays_reason(event: BatchEssaysReady) -> str:
    """Why a batch with no usable essay failed, in words a teacher can act on."""
    if not event.failed_essays:
        return "no essay content was provided for the batch"
    reasons = Counter(essay.error.code.value for essay in event.failed_essays)
    listed = ", ".join(f"{code}: {count}" for code, count in sorted(reasons.items()))
    return f"no essay passed validation ({len(event.failed_essays)} failed: {listed})"


async def handle_essays_ready(envelope: EventEnvelope[BatchEssaysReady], uow: UnitOfWork) -> None:
    """AWAITING_CONTENT → READY (or FAILED with a reason); in any later status, a no-op.

    The status is decided under the batch's row lock. The essays' texts and failures are kept
    with the slots so a pipeline can start from them.
    """
    event = envelope.data
    repository = BatchRepository(uow.session)
    batch = await repository.lock(event.batch_id)
    if batch is None:
        raise UnknownBatchError(event.batch_id)
    if event.ready_essays:
        decision = await apply_trigger(repository, batch, BatchTrigger.CONTENT_READY)
    else:
        decision = await apply_trigger(
            repository,
            batch,
            BatchTrigger.CONTENT_UNUSABLE,
            failure_reason=no_usable_essays_reason(event),
        )
    if not decision.changes_status:
        return
    known = set(await repository.essay_ids(batch.batch_id))
    ready = [essay for essay in event.ready_essays if essay.essay_id in known]
    failed = [essay for essay in event.failed_essays if essay.essay_id in known]
    unknown = len(event.ready_essays) + len(event.failed_essays) - len(ready) - len(failed)
    if unknown:
        _log.warning("essays_not_in_batch_ignored", count=unknown)
    await repository.record_essay_outcomes(batch.batch_id, ready, failed)
    await repository.set_intake_counts(
        batch.batch_id, provisioned=len(event.ready_essays), failed=len(event.failed_essays)
    )
