"""Applying a trigger to a locked batch: the one place a batch's status is written."""

from __future__ import annotations

from batch_orchestrator.domain.batch_state import BatchTrigger, Decision, Verdict, decide
from batch_orchestrator.metrics import BATCH_TRANSITIONS, TRIGGERS_NOT_APPLIED
from batch_orchestrator.repository import BatchRecord, BatchRepository
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)


async def apply_trigger(
    repository: BatchRepository,
    batch: BatchRecord,
    trigger: BatchTrigger,
    *,
    failure_reason: str | None = None,
) -> Decision:
    """Decide and, if the verdict is APPLY, store the new status.

    `batch` must have been read with `BatchRepository.lock` in this transaction, so that two
    workers racing on one batch decide one after the other (invariant 4).
    """
    decision = decide(batch.status, trigger)
    if decision.verdict is Verdict.APPLY:
        await repository.set_status(
            batch.batch_id,
            decision.after,
            failure_reason=failure_reason if decision.after.is_terminal else None,
        )
        BATCH_TRANSITIONS.labels(trigger.value, decision.after.value).inc()
        _log.info(
            "batch_status_changed",
            batch_id=str(batch.batch_id),
            trigger=trigger.value,
            before=decision.before.value,
            after=decision.after.value,
            failure_reason=failure_reason,
        )
        return decision
    TRIGGERS_NOT_APPLIED.labels(trigger.value, decision.verdict.value).inc()
    log = _log.info if decision.verdict is Verdict.IGNORE else _log.warning
    log(
        "batch_trigger_not_applied",
        batch_id=str(batch.batch_id),
        trigger=trigger.value,
        verdict=decision.verdict.value,
        status=batch.status.value,
        reason=decision.reason,
    )
    return decision
