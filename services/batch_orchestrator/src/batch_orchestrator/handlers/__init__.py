"""Handlers of the events BOS consumes, one module per event type."""

from __future__ import annotations

from batch_orchestrator.handlers.content_provisioning_completed import (
    handle_content_provisioning_completed,
)
from batch_orchestrator.handlers.essays_ready import handle_essays_ready
from batch_orchestrator.handlers.excess_content import handle_excess_content
from common_core.events import REGISTRY
from common_core.events.batch import BatchContentProvisioningCompleted, BatchEssaysReady
from common_core.events.essay import ExcessContentProvisioned
from huleedu_service_libs.kafka.consumer import Handler


def event_handlers() -> dict[str, Handler]:
    """Event type → handler, for the worker's consumer loop."""
    return {
        REGISTRY.spec_for_model(BatchContentProvisioningCompleted).event_type: (
            handle_content_provisioning_completed
        ),
        REGISTRY.spec_for_model(BatchEssaysReady).event_type: handle_essays_ready,
        REGISTRY.spec_for_model(ExcessContentProvisioned).event_type: handle_excess_content,
    }


__all__ = [
    "event_handlers",
    "handle_content_provisioning_completed",
    "handle_essays_ready",
    "handle_excess_content",
]
