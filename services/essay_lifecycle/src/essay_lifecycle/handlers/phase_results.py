"""Results of phase work: each finishes its essays, then the phase ends if all are final."""

from __future__ import annotations

from typing import Any

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events.cj import CJAssessmentCompleted, CJAssessmentFailed
from common_core.events.envelope import EventEnvelope
from common_core.events.spellcheck import SpellcheckResult
from common_core.status import PhaseName
from essay_lifecycle.phase_tracking import PhaseConfig, PhaseTracking, ResultHandling
from huleedu_service_libs.database import UnitOfWork

DEFAULT_CONFIG = PhaseConfig()


async def handle_spellcheck_result(
    envelope: EventEnvelope[Any], uow: UnitOfWork, config: PhaseConfig = DEFAULT_CONFIG
) -> None:
    """The essay is spellchecked (its text becomes the corrected text) or failed with the reason.

    A result for an essay that is not waiting for one (duplicate, late, not in the phase) is
    ignored and counted.
    """
    result = envelope.data
    if not isinstance(result, SpellcheckResult):
        raise TypeError(f"expected SpellcheckResult, got {type(result).__name__}")
    tracking = PhaseTracking(uow, config)
    handling = await tracking.finish(
        result.batch_id,
        PhaseName.SPELLCHECK,
        result.essay_id,
        new_text_id=result.corrected_text_id,
        error=result.error,
        details=(
            None
            if result.error is not None
            else {
                "error_counts": {str(k): v for k, v in result.error_counts.items()},
                "total_corrections": len(result.corrections),
            }
        ),
    )
    if handling is ResultHandling.APPLIED:
        await tracking.complete_if_done(result.batch_id, PhaseName.SPELLCHECK)


async def handle_cj_assessment_completed(
    envelope: EventEnvelope[Any], uow: UnitOfWork, config: PhaseConfig = DEFAULT_CONFIG
) -> None:
    """Ranked essays succeed with their text unchanged; reported failures fail with their reason.

    An essay of the phase the event does not mention fails too (never left waiting), so a
    completed assessment always ends the phase.
    """
    event = envelope.data
    if not isinstance(event, CJAssessmentCompleted):
        raise TypeError(f"expected CJAssessmentCompleted, got {type(event).__name__}")
    tracking = PhaseTracking(uow, config)
    phase = PhaseName.CJ_ASSESSMENT
    assessed = set(event.assessed_essay_ids)
    failed = {essay.essay_id: essay.error for essay in event.failed_essays}
    unreported = ErrorDetail(
        code=ErrorCode.PROCESSING_FAILED,
        message="the completed assessment did not report this essay",
        service=config.service_name,
        operation="cj_assessment_completed",
        correlation_id=envelope.correlation_id,
        timestamp=envelope.event_timestamp,
    )
    # In the phase's order, so concurrent handlers of this batch lock its essays in one order.
    members = await tracking.input_text_ids(event.batch_id, phase)
    waiting = set(await tracking.requested_essays(event.batch_id, phase))
    for essay_id, text_id in members.items():
        if essay_id in assessed:
            await tracking.finish(event.batch_id, phase, essay_id, new_text_id=text_id)
        elif essay_id in failed or essay_id in waiting:
            error = failed.get(essay_id, unreported)
            await tracking.finish(event.batch_id, phase, essay_id, error=error)
    for essay_id in (assessed | failed.keys()) - members.keys():
        tracking.ignored(phase, event.batch_id, essay_id, ResultHandling.NOT_IN_PHASE)
    await tracking.complete_if_done(event.batch_id, phase)


async def handle_cj_assessment_failed(
    envelope: EventEnvelope[Any], uow: UnitOfWork, config: PhaseConfig = DEFAULT_CONFIG
) -> None:
    """Every essay still waiting in the CJ phase fails with the assessment's error."""
    event = envelope.data
    if not isinstance(event, CJAssessmentFailed):
        raise TypeError(f"expected CJAssessmentFailed, got {type(event).__name__}")
    tracking = PhaseTracking(uow, config)
    phase = PhaseName.CJ_ASSESSMENT
    for essay_id in await tracking.requested_essays(event.batch_id, phase):
        await tracking.finish(event.batch_id, phase, essay_id, error=event.error)
    await tracking.complete_if_done(event.batch_id, phase)
