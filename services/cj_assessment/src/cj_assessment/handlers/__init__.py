"""Handlers of the events cj_assessment consumes, one module per event type."""

from __future__ import annotations

from functools import partial

from cj_assessment.assessment import AssessmentConfig
from cj_assessment.handlers.assessment_requested import handle_assessment_requested
from cj_assessment.handlers.comparison_result import handle_comparison_result
from common_core.events import REGISTRY
from common_core.events.cj import CJAssessmentRequested
from common_core.events.llm import LLMComparisonResult
from huleedu_service_libs.kafka.consumer import Handler


def event_handlers(config: AssessmentConfig) -> dict[str, Handler]:
    """Event type → handler, for the worker's consumer loop."""
    return {
        REGISTRY.spec_for_model(CJAssessmentRequested).event_type: partial(
            handle_assessment_requested, config=config
        ),
        REGISTRY.spec_for_model(LLMComparisonResult).event_type: partial(
            handle_comparison_result, config=config
        ),
    }


__all__ = ["event_handlers", "handle_assessment_requested", "handle_comparison_result"]
