"""Internal HTTP API read by the gateway: a teacher's batches, status, results, one essay, and
the progress log. Every route needs `X-User-ID`; a batch that is not that teacher's is 404."""

from __future__ import annotations

from uuid import UUID

from quart import Blueprint, Response, jsonify, request
from quart_schema import document_response, validate_querystring, validate_response

from common_core.errors import ErrorCode
from common_core.read_model import (
    BatchList,
    BatchResults,
    BatchStatusView,
    EssayResultDetail,
    ListBatchesQuery,
)
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.http import USER_ID_HEADER, FromDishka, HttpError, acting_user_id
from result_aggregator.domain.csv_export import csv_file_name, results_csv
from result_aggregator.domain.records import BatchFacts
from result_aggregator.domain.teacher_view import (
    batch_summary,
    essay_detail,
    results_view,
    status_view,
)
from result_aggregator.repository import ReadModel
from result_aggregator.settings import ResultAggregatorSettings
from result_aggregator.views import ProgressPage, ProgressQuery

CSV_MEDIA_TYPE = "text/csv"


def _user_id() -> str:
    user_id = acting_user_id()
    if user_id is None:
        raise HttpError(400, ErrorCode.VALIDATION_ERROR, f"the {USER_ID_HEADER} header is required")
    return user_id


def _no_such_batch(batch_id: UUID) -> HttpError:
    return HttpError(404, ErrorCode.NOT_FOUND, "no such batch", {"batch_id": str(batch_id)})


async def _owned_facts(uow: UnitOfWork, batch_id: UUID) -> BatchFacts:
    user_id = _user_id()
    async with uow:
        model = ReadModel(uow.session)
        batch = await model.owned_batch(batch_id, user_id)
        if batch is None:
            raise _no_such_batch(batch_id)
        return await model.facts(batch)


def batches_blueprint() -> Blueprint:
    blueprint = Blueprint("batches", __name__, url_prefix="/v1/batches")

    @blueprint.get("")
    @validate_querystring(ListBatchesQuery)
    @validate_response(BatchList, 200)
    async def list_batches(query_args: ListBatchesQuery, uow: FromDishka[UnitOfWork]) -> BatchList:
        """The teacher's batches, newest first."""
        user_id = _user_id()
        async with uow:
            model = ReadModel(uow.session)
            page, total = await model.batches_of(
                user_id, limit=query_args.limit, offset=query_args.offset, status=query_args.status
            )
            facts = await model.facts_of(page) if page else []
        return BatchList(
            items=[batch_summary(f) for f in facts],
            total=total,
            limit=query_args.limit,
            offset=query_args.offset,
        )

    @blueprint.get("/<uuid:batch_id>")
    @validate_response(BatchStatusView, 200)
    async def batch_status(batch_id: UUID, uow: FromDishka[UnitOfWork]) -> BatchStatusView:
        """Status, counts, every slot with its file and phases, and surplus files."""
        return status_view(await _owned_facts(uow, batch_id))

    @blueprint.get("/<uuid:batch_id>/results")
    @document_response(BatchResults, 200)
    async def batch_results(batch_id: UUID, uow: FromDishka[UnitOfWork]) -> Response:
        """Per-essay results, anchors apart, pipeline timings; CSV with `Accept: text/csv`."""
        results = results_view(await _owned_facts(uow, batch_id))
        if request.accept_mimetypes.best_match(["application/json", CSV_MEDIA_TYPE]) == (
            CSV_MEDIA_TYPE
        ):
            return Response(
                results_csv(results),
                content_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{csv_file_name(results)}"'},
            )
        return jsonify(results.model_dump(mode="json"))

    @blueprint.get("/<uuid:batch_id>/essays/<uuid:essay_id>")
    @validate_response(EssayResultDetail, 200)
    async def essay(
        batch_id: UUID, essay_id: UUID, uow: FromDishka[UnitOfWork]
    ) -> EssayResultDetail:
        """One student essay with its corrections (offsets in the original text)."""
        facts = await _owned_facts(uow, batch_id)
        found = next((e for e in facts.essays if e.essay_id == essay_id and not e.is_anchor), None)
        if found is None:
            raise HttpError(
                404, ErrorCode.NOT_FOUND, "no such essay in this batch", {"essay_id": str(essay_id)}
            )
        return essay_detail(facts, found)

    @blueprint.get("/<uuid:batch_id>/progress")
    @validate_querystring(ProgressQuery)
    @validate_response(ProgressPage, 200)
    async def progress(
        batch_id: UUID,
        query_args: ProgressQuery,
        uow: FromDishka[UnitOfWork],
        settings: FromDishka[ResultAggregatorSettings],
    ) -> ProgressPage:
        """The batch's progress log after `after`, in `seq` order (for backlog and reconnects)."""
        user_id = _user_id()
        async with uow:
            model = ReadModel(uow.session)
            if await model.owned_batch(batch_id, user_id) is None:
                raise _no_such_batch(batch_id)
            events = await model.progress_after(
                batch_id, query_args.after, min(query_args.limit, settings.progress_page_max)
            )
        return ProgressPage(events=events)

    return blueprint
