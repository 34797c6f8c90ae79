"""Batches: registration (through BOS), pipeline requests (published to Kafka for BOS), and the
reads of result_aggregator's read model: the teacher's list, a batch's status, its results
(JSON or CSV), an essay's texts with its corrections, and the recorded progress."""

from __future__ import annotations

import asyncio
from uuid import UUID

from quart import Blueprint, Response, jsonify, request
from quart_schema import (
    document_response,
    validate_querystring,
    validate_request,
    validate_response,
)

from api_gateway.api.guard import (
    documents_errors,
    owned_batch,
    protect,
    request_limit,
    require_owner,
)
from api_gateway.auth import AuthenticatedTeacher
from api_gateway.batch_status import batch_status_view
from api_gateway.clients import BatchOrchestratorClient, BatchView, ResultAggregatorClient
from api_gateway.models import (
    EssayText,
    PipelineAccepted,
    PipelineRequest,
    ProgressEvents,
    ProgressQuery,
    RegisterBatchRequest,
    RegistrationAccepted,
)
from api_gateway.pipeline_requests import PipelineRequestPublisher
from common_core.errors import ErrorCode
from common_core.read_model import BatchList, BatchResults, BatchStatusView, ListBatchesQuery
from common_core.status import BatchStatus
from huleedu_service_libs.content_client import (
    ContentClient,
    ContentRefusedError,
    ContentServiceUnavailableError,
)
from huleedu_service_libs.http import FromDishka, HttpError

PIPELINE_READY = frozenset(
    {BatchStatus.READY, BatchStatus.COMPLETED_SUCCESSFULLY, BatchStatus.COMPLETED_WITH_FAILURES}
)
"""Statuses in which a batch may start a pipeline (BOS checks again when it consumes the
request: this check spares the teacher a request that would only be dropped)."""

JSON_MEDIA_TYPE = "application/json"
CSV_MEDIA_TYPE = "text/csv"

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
        results: FromDishka[ResultAggregatorClient],
    ) -> BatchList:
        """The teacher's batches, newest first."""
        return await results.batches_of(
            teacher.teacher_id,
            limit=query_args.limit,
            offset=query_args.offset,
            status=query_args.status,
        )

    @blueprint.get("/<uuid:batch_id>/status")
    @validate_response(BatchStatusView, 200)
    @documents_errors(404, 503)
    async def batch_status(
        batch_id: UUID,
        teacher: FromDishka[AuthenticatedTeacher],
        batches: FromDishka[BatchOrchestratorClient],
        results: FromDishka[ResultAggregatorClient],
    ) -> BatchStatusView:
        """The batch's status, counts, and every essay's state with its file name."""
        batch_read, view_read = await asyncio.gather(
            batches.batch(batch_id),
            results.status(teacher.teacher_id, batch_id),
            return_exceptions=True,
        )
        if isinstance(batch_read, BaseException):
            raise batch_read
        batch = require_owner(batch_read, batch_id, teacher)
        if isinstance(view_read, BaseException):
            raise view_read
        return batch_status_view(batch, view_read)

    @blueprint.get("/<uuid:batch_id>/results")
    @document_response(BatchResults, 200)
    @documents_errors(404, 503)
    async def batch_results(
        batch_id: UUID,
        teacher: FromDishka[AuthenticatedTeacher],
        results: FromDishka[ResultAggregatorClient],
    ) -> Response:
        """Per-essay results (rank, score ± SE, grade, counts, failures), anchors apart, and
        pipeline timings; with `Accept: text/csv`, one CSV row per student essay by rank."""
        if request.accept_mimetypes.best_match([JSON_MEDIA_TYPE, CSV_MEDIA_TYPE]) == (
            CSV_MEDIA_TYPE
        ):
            body, disposition = await results.results_csv(teacher.teacher_id, batch_id)
            return Response(
                body,
                content_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
                headers={"Content-Disposition": disposition},
            )
        found = await results.results(teacher.teacher_id, batch_id)
        return jsonify(found.model_dump(mode="json"))

    @blueprint.get("/<uuid:batch_id>/essays/<uuid:essay_id>/text")
    @validate_response(EssayText, 200)
    @documents_errors(404, 503)
    async def essay_text(
        batch_id: UUID,
        essay_id: UUID,
        teacher: FromDishka[AuthenticatedTeacher],
        results: FromDishka[ResultAggregatorClient],
        content: FromDishka[ContentClient],
    ) -> EssayText:
        """One essay's original and corrected text, with each correction's offsets in the
        original (the corrected text is null until the essay is spellchecked)."""
        essay = await results.essay(teacher.teacher_id, batch_id, essay_id)
        original, corrected = await asyncio.gather(
            _text(content, essay.original_text_id), _text(content, essay.corrected_text_id)
        )
        return EssayText(
            essay_id=essay.essay_id,
            file_name=essay.file_name,
            original_text=original,
            corrected_text=corrected,
            corrections=essay.corrections,
        )

    @blueprint.get("/<uuid:batch_id>/progress")
    @validate_querystring(ProgressQuery)
    @validate_response(ProgressEvents, 200)
    @documents_errors(400, 404, 503)
    async def batch_progress(
        batch_id: UUID,
        query_args: ProgressQuery,
        teacher: FromDishka[AuthenticatedTeacher],
        results: FromDishka[ResultAggregatorClient],
    ) -> ProgressEvents:
        """The batch's recorded progress after `after`, in order (live: `/events`)."""
        events = await results.progress(teacher.teacher_id, batch_id, query_args.after)
        return ProgressEvents(events=events)

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


async def _text(content: ContentClient, content_id: str | None) -> str | None:
    """A stored text, or None when there is none (yet); content_service down is a 503."""
    if content_id is None:
        return None
    try:
        data = await content.fetch(content_id)
    except ContentRefusedError:
        return None
    except ContentServiceUnavailableError as error:
        raise HttpError(
            503, ErrorCode.SERVICE_UNAVAILABLE, "content_service is unavailable"
        ) from error
    return data.decode("utf-8", errors="replace")
