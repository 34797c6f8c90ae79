"""Batches: registration (through BOS), the teacher's list, and one batch's status."""

from __future__ import annotations

import asyncio
from uuid import UUID

from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from api_gateway.api.guard import documents_errors, protect, request_limit, require_owner
from api_gateway.auth import AuthenticatedTeacher
from api_gateway.batch_status import batch_status_view
from api_gateway.clients import BatchOrchestratorClient, EssayLifecycleClient
from api_gateway.models import (
    BatchList,
    BatchStatusView,
    BatchSummary,
    ListBatchesQuery,
    RegisterBatchRequest,
    RegistrationAccepted,
)
from huleedu_service_libs.http import FromDishka


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

    return blueprint
