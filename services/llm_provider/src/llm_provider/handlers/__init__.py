"""Handlers of the events llm_provider consumes."""

from __future__ import annotations

from functools import partial

from common_core.events import REGISTRY
from common_core.events.llm import LLMComparisonRequest
from huleedu_service_libs.kafka.consumer import Handler
from llm_provider.handlers.comparison_request import handle_comparison_request
from llm_provider.queue import RequestQueue


def event_handlers(queue: RequestQueue) -> dict[str, Handler]:
    """Event type → handler, bound to the queue requests go into."""
    return {
        REGISTRY.spec_for_model(LLMComparisonRequest).event_type: partial(
            handle_comparison_request, queue=queue
        ),
    }


__all__ = ["event_handlers", "handle_comparison_request"]
