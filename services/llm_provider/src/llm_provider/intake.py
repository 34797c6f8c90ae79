"""Accepting a comparison request, the same way from Kafka and from HTTP.

The row is the durable record; the Redis entry only orders it. A request id seen before
changes nothing (the primary key), so a redelivered or re-posted request is queued once.
"""

from __future__ import annotations

from uuid import UUID

from common_core.events.llm import LLMComparisonRequest
from huleedu_service_libs.database import UnitOfWork
from llm_provider import metrics
from llm_provider.queue import RequestQueue
from llm_provider.repository import RequestRepository


async def accept_request(
    uow: UnitOfWork,
    queue: RequestQueue,
    request: LLMComparisonRequest,
    *,
    correlation_id: UUID | None,
    via: str,
) -> bool:
    """Store `request` inside the caller's transaction and enqueue it once that commits.

    The id reaches Redis only after its row is visible, so a worker never pops an id it cannot
    claim yet. A crash between the commit and the push loses nothing: housekeeping re-adds
    every committed queued row Redis does not hold. False for a duplicate.
    """
    entry = await RequestRepository(uow.session).add(request, correlation_id=correlation_id)
    if entry is None:
        return False

    async def enqueue() -> None:
        await queue.push([entry])

    uow.after_commit(enqueue)
    metrics.REQUESTS_ACCEPTED.labels(via).inc()
    return True
