"""LLMComparisonRequest → a queued request row and its Redis entry (once per request id)."""

from __future__ import annotations

from typing import Any

from common_core.events.envelope import EventEnvelope
from common_core.events.llm import LLMComparisonRequest
from huleedu_service_libs.database import UnitOfWork
from llm_provider.intake import accept_request
from llm_provider.queue import RequestQueue


async def handle_comparison_request(
    envelope: EventEnvelope[Any], uow: UnitOfWork, *, queue: RequestQueue
) -> None:
    request = envelope.data
    if not isinstance(request, LLMComparisonRequest):
        raise TypeError(f"expected LLMComparisonRequest, got {type(request).__name__}")
    await accept_request(uow, queue, request, correlation_id=envelope.correlation_id, via="kafka")
