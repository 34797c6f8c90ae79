"""`CJAssessmentRequested`: create the CJ batch (once) and send its first wave."""

from __future__ import annotations

from cj_assessment.assessment import AssessmentConfig, start_batch
from common_core.events.cj import CJAssessmentRequested
from common_core.events.envelope import EventEnvelope
from huleedu_service_libs.database import UnitOfWork


async def handle_assessment_requested(
    envelope: EventEnvelope[CJAssessmentRequested], uow: UnitOfWork, *, config: AssessmentConfig
) -> None:
    """A redelivered request finds its batch and changes nothing."""
    await start_batch(uow, envelope.data, envelope.correlation_id, config)
