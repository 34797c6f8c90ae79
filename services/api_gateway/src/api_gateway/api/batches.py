"""Batches: registration (through BOS), the teacher's list, one batch's status, and pipeline
requests (published to Kafka for BOS)."""

from __future__ import annotations

import asyncio
from uuid import UUID

from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from api_gateway.api.guard import (
    documents_errors,
    owned_batch,
    protect,
    request_limit,
    require_owner,
)
from api_gateway.auth import AuthenticatedTeacher
from api_gateway.batch_status import batch_status_view
from api_gateway.clients import BatchOrchestratorClient, BatchView, EssayLifecycleClient
from api_gateway.models import (
    BatchList,
    BatchStatusView,
    BatchSummary,
    ListBatchesQuery,
    PipelineAccepted,
    PipelineRequest,
    RegisterBatchRequest,
    RegistrationAccepted,
)
from api_gateway.pipeline_requests import PipelineRequestPublisher
from common_core.errors import ErrorCode
from common_core.status import BatchStatus
from huleedu_service_libs.http import FromDishka, HttpError

PIPELINE_READY = frozenset(
    {BatchStatus.READY, BatchStatus.COMPLETED_SUCCESSFULLY, BatchStatus.COMPLETED_WITH_FAILURES}
)
"""Statuses in which a batch may start a pipeline (BOS checks again when it consumes the
request: this check spares the teacher a request that would only be dropped)."""

_REFUSAL = {
    BatchStatus.AWAITING_CONTENT: "batch is not ready: content is still arriving",
    BatchStatus.PROCESSING: "a pipeline is already running",
}


def batches_blueprint() -> Blueprint:
    blueprint = Blueprint("batches", __name__, url_prefix="/v1/batches")
    protect(blueprint, request_limit, json_bodies=True)

    @blueprint.post("/register")
    @validate_request(RegisterBatchRequest)
    @validate_response(RegistrationAccepted, 202)
    @documents_errors(400, 413, 503)
    async def register_batch(
        data: RegisterBatchRequest,
        teacher: FromDishka[AuthenticatedTeacher],
        batches: FromDishka[BatchOrchestratorClient],
    ) -> tuple[RegistrationAccepted, int]:
        """Register a batch of essays the teacher is about to upload."""
        return await batches.register(teacher.teacher_id, data), 202

    @blueprint.get("")
    @validate_querystring(ListBatchesQuery)
    @validate_response(BatchList, 200)
    @documents_errors(400, 503)
    async def list_batches(
        query_args: ListBatchesQuery,
        teacher: FromDishka[AuthenticatedTeacher],
        batches: FromDishka[BatchOrchestratorClient],
    ) -> BatchList:
        """The teacher's batches, newest first."""
        page = await batches.batches_of(
            teacher.teacher_id,
            limit=query_args.limit,
            offset=query_args.offset,
            status=query_args.status,
        )
        return BatchList(
            items=[
                BatchSummary(
                    batch_id=batch.batch_id,
                    title=batch.title,
                    course_code=batch.course_code,
                    class_id=batch.class_id,
                    status=batch.client_status,
                    expected_essay_count=batch.expected_essay_count,
                    provisioned_count=batch.provisioned_count,
                    failed_count=batch.failed_count,
                    excess_count=batch.excess_count,
                    created_at=batch.created_at,
                    updated_at=batch.updated_at,
                )
                for batch in page.items
            ],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @blueprint.get("/<uuid:batch_id>/status")
    @validate_response(BatchStatusView, 200)
    @documents_errors(404, 503)
    async def batch_status(
        batch_id: UUID,
        teacher: FromDishka[AuthenticatedTeacher],
        batches: FromDishka[BatchOrchestratorClient],
        essays: FromDishka[EssayLifecycleClient],
    ) -> BatchStatusView:
        """The batch's status, counts, and every essay's state with its file name."""
        batch_read, essays_read = await asyncio.gather(
            batches.batch(batch_id), essays.essays_of(batch_id), return_exceptions=True
        )
        if isinstance(batch_read, BaseException):
            raise batch_read
        batch = require_owner(batch_read, batch_id, teacher)
        if isinstance(essays_read, BaseException):
            raise essays_read
        return batch_status_view(batch, essays_read)

    @blueprint.post("/<uuid:batch_id>/pipelines")
    @validate_request(PipelineRequest)
    @validate_response(PipelineAccepted, 202)
    @documents_errors(400, 404, 409, 413, 503)
    async def request_pipeline(
        batch_id: UUID,
        data: PipelineRequest,
        teacher: FromDishka[AuthenticatedTeacher],
        batches: FromDishka[BatchOrchestratorClient],
        pipelines: FromDishka[PipelineRequestPublisher],
    ) -> tuple[PipelineAccepted, int]:
        """Run a pipeline on a ready (or completed) batch; 202 once the request is queued."""
        require_pipeline_ready(await owned_batch(batches, batch_id, teacher))
        correlation_id = await pipelines.request(
            batch_id, data.requested_pipeline, teacher.teacher_id
        )
        return PipelineAccepted(
            status="accepted", batch_id=batch_id, correlation_id=correlation_id
        ), 202

    return blueprint


def require_pipeline_ready(batch: BatchView) -> None:
    """409 `conflict` with the reason (and BOS's status) when the batch cannot start one now."""
    if batch.status in PIPELINE_READY:
        return
    reason = _REFUSAL.get(batch.status, f"batch is {batch.status.value}: no pipeline can run")
    raise HttpError(
        409,
        ErrorCode.CONFLICT,
        reason,
        {"batch_id": str(batch.batch_id), "status": batch.status.value},
    )
