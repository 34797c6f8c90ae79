"""HTTP API: queue a comparison, read its real state and result, read a batch's costs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel
from quart import Blueprint
from quart_schema import validate_request, validate_response

from common_core.errors import ErrorCode
from common_core.events.llm import LLMComparisonRequest, LLMComparisonResult
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.http import FromDishka, HttpError, current_correlation_id
from llm_provider.intake import accept_request
from llm_provider.models import RequestState
from llm_provider.queue import RequestQueue
from llm_provider.repository import RequestRepository


class AcceptedComparison(BaseModel):
    request_id: UUID


class ComparisonView(BaseModel):
    request_id: UUID
    batch_id: UUID
    state: RequestState
    attempts: int
    created_at: datetime
    updated_at: datetime
    result: LLMComparisonResult | None


class ModelCostView(BaseModel):
    provider: str
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal


class BatchCostView(BaseModel):
    batch_id: UUID
    requests: int
    cost_usd: Decimal
    by_model: list[ModelCostView]


def comparisons_blueprint() -> Blueprint:
    blueprint = Blueprint("comparisons", __name__, url_prefix="/v1")

    @blueprint.post("/comparisons")
    @validate_request(LLMComparisonRequest)
    @validate_response(AcceptedComparison, 202)
    async def submit(
        data: LLMComparisonRequest, uow: FromDishka[UnitOfWork], queue: FromDishka[RequestQueue]
    ) -> tuple[AcceptedComparison, int]:
        """Queue one comparison; posting the same request id again queues nothing new."""
        async with uow:
            await accept_request(
                uow, queue, data, correlation_id=current_correlation_id(), via="http"
            )
            await uow.commit()
        return AcceptedComparison(request_id=data.request_id), 202

    @blueprint.get("/comparisons/<uuid:request_id>")
    @validate_response(ComparisonView, 200)
    async def read(request_id: UUID, uow: FromDishka[UnitOfWork]) -> ComparisonView:
        async with uow:
            record = await RequestRepository(uow.session).get(request_id)
        if record is None:
            raise HttpError(404, ErrorCode.NOT_FOUND, "no such comparison request")
        return ComparisonView(
            request_id=record.request_id,
            batch_id=record.batch_id,
            state=record.state,
            attempts=record.attempts,
            created_at=record.created_at,
            updated_at=record.updated_at,
            result=record.result,
        )

    @blueprint.get("/batches/<uuid:batch_id>/costs")
    @validate_response(BatchCostView, 200)
    async def costs(batch_id: UUID, uow: FromDishka[UnitOfWork]) -> BatchCostView:
        """The cost ledger of one batch: every answered request counted once."""
        async with uow:
            rows = await RequestRepository(uow.session).batch_costs(batch_id)
        return BatchCostView(
            batch_id=batch_id,
            requests=sum(row.requests for row in rows),
            cost_usd=sum((row.cost_usd for row in rows), Decimal(0)),
            by_model=[ModelCostView(**vars(row)) for row in rows],
        )

    return blueprint
