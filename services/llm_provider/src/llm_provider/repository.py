"""Reads and guarded state changes of comparison requests; each change is one statement.

Every transition names the state it leaves (`WHERE state = ...`), so two workers racing for
one request, or a worker racing the lease reaper, cannot both win (invariant 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from common_core.events.llm import LLMComparisonRequest, LLMComparisonResult
from llm_provider.models import RequestState, comparison_requests

_t = comparison_requests


@dataclass(frozen=True)
class QueueEntry:
    """What the Redis queue needs to order a request: priority, then age."""

    request_id: UUID
    priority: int
    created_at: datetime


@dataclass(frozen=True)
class RequestRecord:
    request_id: UUID
    batch_id: UUID
    state: RequestState
    callback_topic: str
    correlation_id: UUID | None
    request: LLMComparisonRequest
    priority: int
    deadline: datetime
    attempts: int
    result: LLMComparisonResult | None
    created_at: datetime
    updated_at: datetime

    @property
    def entry(self) -> QueueEntry:
        return QueueEntry(self.request_id, self.priority, self.created_at)


@dataclass(frozen=True)
class ModelCost:
    provider: str
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal


def _record(row: RowMapping) -> RequestRecord:
    response = row["response"]
    return RequestRecord(
        request_id=row["request_id"],
        batch_id=row["batch_id"],
        state=RequestState(row["state"]),
        callback_topic=row["callback_topic"],
        correlation_id=row["correlation_id"],
        request=LLMComparisonRequest.model_validate(row["payload"]),
        priority=row["priority"],
        deadline=row["deadline"],
        attempts=row["attempts"],
        result=None if response is None else LLMComparisonResult.model_validate(response),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _answer_values(result: LLMComparisonResult) -> dict[str, Any]:
    """The answer's columns: the result itself and its cost ledger entry."""
    return {
        "response": result.model_dump(mode="json"),
        "provider": result.provider,
        "model": result.model,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cached_tokens": result.cached_tokens,
        "cost_usd": result.cost_usd,
    }


class RequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, request: LLMComparisonRequest, *, correlation_id: UUID | None
    ) -> QueueEntry | None:
        """Store a new request as queued; None if this request id is already known."""
        row = (
            await self._session.execute(
                insert(_t)
                .values(
                    request_id=request.request_id,
                    batch_id=request.batch_id,
                    state=RequestState.QUEUED,
                    callback_topic=request.callback_topic,
                    correlation_id=correlation_id,
                    payload=request.model_dump(mode="json"),
                    priority=request.priority,
                    deadline=request.deadline,
                )
                .on_conflict_do_nothing(index_elements=[_t.c.request_id])
                .returning(_t.c.request_id, _t.c.priority, _t.c.created_at)
            )
        ).one_or_none()
        return None if row is None else QueueEntry(row.request_id, row.priority, row.created_at)

    async def get(self, request_id: UUID) -> RequestRecord | None:
        row = (
            (await self._session.execute(select(_t).where(_t.c.request_id == request_id)))
            .mappings()
            .one_or_none()
        )
        return None if row is None else _record(row)

    async def exists(self, request_id: UUID) -> bool:
        found = await self._session.execute(
            select(_t.c.request_id).where(_t.c.request_id == request_id)
        )
        return found.first() is not None

    async def claim(self, request_id: UUID, *, lease_until: datetime) -> RequestRecord | None:
        """queued → in_flight with a lease; None if the request is not (or no longer) queued."""
        row = (
            (
                await self._session.execute(
                    update(_t)
                    .where(_t.c.request_id == request_id, _t.c.state == RequestState.QUEUED)
                    .values(
                        state=RequestState.IN_FLIGHT,
                        attempts=_t.c.attempts + 1,
                        lease_expires_at=lease_until,
                        updated_at=func.now(),
                    )
                    .returning(*_t.c)
                )
            )
            .mappings()
            .one_or_none()
        )
        return None if row is None else _record(row)

    async def renew_lease(self, request_id: UUID, *, lease_until: datetime) -> bool:
        result = await self._session.execute(
            update(_t)
            .where(_t.c.request_id == request_id, _t.c.state == RequestState.IN_FLIGHT)
            .values(lease_expires_at=lease_until)
            .returning(_t.c.request_id)
        )
        return result.first() is not None

    async def release(self, request_id: UUID) -> QueueEntry | None:
        """in_flight → queued (a transient failure before the provider answered)."""
        row = (
            await self._session.execute(
                update(_t)
                .where(
                    _t.c.request_id == request_id,
                    _t.c.state == RequestState.IN_FLIGHT,
                    _t.c.response.is_(None),
                )
                .values(state=RequestState.QUEUED, lease_expires_at=None, updated_at=func.now())
                .returning(_t.c.request_id, _t.c.priority, _t.c.created_at)
            )
        ).one_or_none()
        return None if row is None else QueueEntry(row.request_id, row.priority, row.created_at)

    async def finish(
        self, request_id: UUID, state: RequestState, *, answer: LLMComparisonResult | None = None
    ) -> bool:
        """in_flight → done/failed in one statement; False if someone else finished it.

        With `answer`, the row must hold none yet and keeps this one (the first answer wins);
        without, the row must already hold the answer being published.
        """
        statement = update(_t).where(
            _t.c.request_id == request_id, _t.c.state == RequestState.IN_FLIGHT
        )
        if answer is None:
            statement = statement.where(_t.c.response.is_not(None))
        else:
            statement = statement.where(_t.c.response.is_(None)).values(**_answer_values(answer))
        result = await self._session.execute(
            statement.values(state=state, lease_expires_at=None, updated_at=func.now()).returning(
                _t.c.request_id
            )
        )
        return result.first() is not None

    async def requeue_expired_leases(self, now: datetime) -> list[QueueEntry]:
        """in_flight rows whose worker stopped renewing → queued again (answers kept)."""
        rows = await self._session.execute(
            update(_t)
            .where(_t.c.state == RequestState.IN_FLIGHT, _t.c.lease_expires_at < now)
            .values(state=RequestState.QUEUED, lease_expires_at=None, updated_at=func.now())
            .returning(_t.c.request_id, _t.c.priority, _t.c.created_at)
        )
        return [QueueEntry(r.request_id, r.priority, r.created_at) for r in rows]

    async def queued(self, *, limit: int = 10_000, after: UUID | None = None) -> list[QueueEntry]:
        """Queued rows in id order (for rebuilding the Redis queue page by page)."""
        query = select(_t.c.request_id, _t.c.priority, _t.c.created_at).where(
            _t.c.state == RequestState.QUEUED
        )
        if after is not None:
            query = query.where(_t.c.request_id > after)
        rows = await self._session.execute(query.order_by(_t.c.request_id).limit(limit))
        return [QueueEntry(r.request_id, r.priority, r.created_at) for r in rows]

    async def overdue_queued(self, now: datetime, *, limit: int = 500) -> list[UUID]:
        rows = await self._session.execute(
            select(_t.c.request_id)
            .where(_t.c.state == RequestState.QUEUED, _t.c.deadline < now)
            .order_by(_t.c.deadline)
            .limit(limit)
        )
        return [r.request_id for r in rows]

    async def queue_stats(self) -> tuple[dict[RequestState, int], datetime | None]:
        """Rows per state and the creation time of the oldest queued one."""
        counts = {
            RequestState(r.state): int(r.n)
            for r in await self._session.execute(
                select(_t.c.state, func.count().label("n")).group_by(_t.c.state)
            )
        }
        oldest = (
            await self._session.execute(
                select(func.min(_t.c.created_at)).where(_t.c.state == RequestState.QUEUED)
            )
        ).scalar_one()
        return counts, oldest

    async def batch_costs(self, batch_id: UUID) -> list[ModelCost]:
        """The cost ledger of one batch: answered requests per provider and model."""
        rows = await self._session.execute(
            select(
                _t.c.provider,
                _t.c.model,
                func.count().label("requests"),
                func.sum(_t.c.input_tokens).label("input_tokens"),
                func.sum(_t.c.output_tokens).label("output_tokens"),
                func.sum(_t.c.cached_tokens).label("cached_tokens"),
                func.sum(_t.c.cost_usd).label("cost_usd"),
            )
            .where(_t.c.batch_id == batch_id, _t.c.response.is_not(None))
            .group_by(_t.c.provider, _t.c.model)
            .order_by(_t.c.provider, _t.c.model)
        )
        return [
            ModelCost(
                provider=r.provider,
                model=r.model,
                requests=int(r.requests),
                input_tokens=int(r.input_tokens),
                output_tokens=int(r.output_tokens),
                cached_tokens=int(r.cached_tokens),
                cost_usd=Decimal(r.cost_usd),
            )
            for r in rows
        ]
