"""Accepting a comparison request, the same way from Kafka and from HTTP.

The row is the durable record; the Redis entry only orders it. A request id seen before
changes nothing (the primary key), so a redelivered or re-posted request is queued once.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from common_core.events.llm import LLMComparisonRequest
from llm_provider import metrics
from llm_provider.queue import RequestQueue
from llm_provider.repository import RequestRepository


async def accept_request(
    session: AsyncSession,
    queue: RequestQueue,
    request: LLMComparisonRequest,
    *,
    correlation_id: UUID | None,
    via: str,
) -> bool:
    """Store and enqueue `request` inside the caller's transaction; False for a duplicate.

    The id may reach Redis a moment before the row commits: the worker waits briefly for an
    invisible row, and housekeeping re-adds any committed queued row Redis does not hold.
    """
    entry = await RequestRepository(session).add(request, correlation_id=correlation_id)
    if entry is None:
        return False
    await queue.push([entry])
    metrics.REQUESTS_ACCEPTED.labels(via).inc()
    return True
