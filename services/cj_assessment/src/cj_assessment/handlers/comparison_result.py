"""`LLMComparisonResult`: record the verdict once; a closed wave leads to a refit."""

from __future__ import annotations

from cj_assessment.assessment import AssessmentConfig, record_result
from common_core.events.envelope import EventEnvelope
from common_core.events.llm import LLMComparisonResult
from huleedu_service_libs.database import UnitOfWork


async def handle_comparison_result(
    envelope: EventEnvelope[LLMComparisonResult], uow: UnitOfWork, *, config: AssessmentConfig
) -> None:
    """Unknown, duplicate and late results are counted and logged, never an error."""
    await record_result(uow, envelope.data, config)
