"""BOS's phase commands: essays enter the phase and the per-essay or batch requests go out."""

from __future__ import annotations

from typing import Any

from common_core.events.cj import CJAssessmentRequested
from common_core.events.envelope import EventEnvelope
from common_core.events.pipeline import (
    BatchCJAssessmentInitiateCommand,
    BatchSpellcheckInitiateCommand,
)
from common_core.events.spellcheck import EssaySpellcheckRequested
from common_core.status import PhaseName
from essay_lifecycle.phase_tracking import PhaseConfig, PhaseTracking
from huleedu_service_libs.database import UnitOfWork

DEFAULT_CONFIG = PhaseConfig()


async def handle_batch_spellcheck_initiate(
    envelope: EventEnvelope[Any], uow: UnitOfWork, config: PhaseConfig = DEFAULT_CONFIG
) -> None:
    """One EssaySpellcheckRequested per essay that entered; a repeated command does nothing."""
    command = envelope.data
    if not isinstance(command, BatchSpellcheckInitiateCommand):
        raise TypeError(f"expected BatchSpellcheckInitiateCommand, got {type(command).__name__}")
    requested = await PhaseTracking(uow, config).start(
        command.batch_id, PhaseName.SPELLCHECK, command.essays, envelope.correlation_id
    )
    for essay in requested or []:
        await uow.publish(
            EssaySpellcheckRequested(
                batch_id=command.batch_id,
                essay_id=essay.essay_id,
                text_id=essay.text_id,
                language=command.language,
            ),
            correlation_id=envelope.correlation_id,
        )


async def handle_batch_cj_assessment_initiate(
    envelope: EventEnvelope[Any], uow: UnitOfWork, config: PhaseConfig = DEFAULT_CONFIG
) -> None:
    """One batch-level CJAssessmentRequested for the essays that entered (if any did)."""
    command = envelope.data
    if not isinstance(command, BatchCJAssessmentInitiateCommand):
        raise TypeError(f"expected BatchCJAssessmentInitiateCommand, got {type(command).__name__}")
    requested = await PhaseTracking(uow, config).start(
        command.batch_id, PhaseName.CJ_ASSESSMENT, command.essays, envelope.correlation_id
    )
    if not requested:
        return
    await uow.publish(
        CJAssessmentRequested(
            batch_id=command.batch_id,
            essays=requested,
            course_code=command.course_code,
            language=command.language,
            essay_instructions=command.essay_instructions,
            assignment_id=command.assignment_id,
        ),
        correlation_id=envelope.correlation_id,
    )
