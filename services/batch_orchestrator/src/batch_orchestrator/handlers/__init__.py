"""Handlers of the events BOS consumes, one module per event type."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from batch_orchestrator.handlers.content_provisioning_completed import (
    handle_content_provisioning_completed,
)
from batch_orchestrator.handlers.essays_ready import handle_essays_ready
from batch_orchestrator.handlers.excess_content import handle_excess_content
from batch_orchestrator.handlers.phase_outcome import handle_phase_outcome
from batch_orchestrator.handlers.pipeline_request import handle_pipeline_request
from batch_orchestrator.settings import BatchOrchestratorSettings
from common_core.events import REGISTRY
from common_core.events.batch import BatchContentProvisioningCompleted, BatchEssaysReady
from common_core.events.essay import ExcessContentProvisioned
from common_core.events.pipeline import ClientBatchPipelineRequest, ELSBatchPhaseOutcome
from huleedu_service_libs.kafka.consumer import Handler

DEFAULT_PHASE_TIMEOUT = timedelta(
    seconds=BatchOrchestratorSettings.model_fields["phase_timeout_s"].default
)


def event_handlers(phase_timeout: timedelta = DEFAULT_PHASE_TIMEOUT) -> dict[str, Handler]:
    """Event type → handler, for the worker's consumer loop."""
    return {
        REGISTRY.spec_for_model(BatchContentProvisioningCompleted).event_type: (
            handle_content_provisioning_completed
        ),
        REGISTRY.spec_for_model(BatchEssaysReady).event_type: handle_essays_ready,
        REGISTRY.spec_for_model(ExcessContentProvisioned).event_type: handle_excess_content,
        REGISTRY.spec_for_model(ClientBatchPipelineRequest).event_type: partial(
            handle_pipeline_request, phase_timeout=phase_timeout
        ),
        REGISTRY.spec_for_model(ELSBatchPhaseOutcome).event_type: partial(
            handle_phase_outcome, phase_timeout=phase_timeout
        ),
    }


__all__ = [
    "event_handlers",
    "handle_content_provisioning_completed",
    "handle_essays_ready",
    "handle_excess_content",
    "handle_phase_outcome",
    "handle_pipeline_request",
]
