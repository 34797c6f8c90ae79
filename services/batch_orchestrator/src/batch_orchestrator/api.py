"""HTTP API: register a batch, read one batch, list a teacher's batches.

Only the gateway calls these; it has authenticated the teacher and passes `user_id`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response
from sqlalchemy.ext.asyncio import AsyncSession

from batch_orchestrator.domain.language import language_for_course
from batch_orchestrator.domain.pipeline_run import PhaseState
from batch_orchestrator.metrics import BATCHES_REGISTERED
from batch_orchestrator.pipeline_repository import PipelineRepository, RunRecord
from batch_orchestrator.repository import BatchRecord, BatchRepository, NewBatch
from common_core.errors import ErrorCode
from common_core.events.base import MAX_BATCH_ESSAYS
from common_core.events.batch import BatchEssaysRegistered
from common_core.events.envelope import EventMetadata
from common_core.status import (
    CLIENT_STATUS_FOR,
    BatchClientStatus,
    BatchStatus,
    PhaseName,
    PhaseStatus,
)
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.http import FromDishka, HttpError, current_correlation_id
from huleedu_service_libs.logging import get_logger, traceparent_for_current_context

_log = get_logger(__name__)

MAX_PAGE_SIZE = 100
MAX_OFFSET = 2**31 - 1


def _storable(value: str) -> str:
    """Reject what Postgres text cannot hold, as a 400 here rather than a 500 at INSERT."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


UserId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_storable),
]
CourseCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
    AfterValidator(_storable),
]
Title = Annotated[str, StringConstraints(max_length=255), AfterValidator(_storable)]
Instructions = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_storable)]
ReferenceId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_storable),
]


class RegisterBatchRequest(BaseModel):
    user_id: UserId = Field(description="The teacher who owns the batch.")
    expected_essay_count: int = Field(
        strict=True, ge=1, le=MAX_BATCH_ESSAYS, description="Essays (slots) the teacher expects."
    )
    course_code: CourseCode = Field(description="Course, e.g. `ENG5`; `SV*` means Swedish.")
    title: Title | None = None
    essay_instructions: Instructions | None = Field(
        default=None, description="The assignment text the students answered."
    )
    class_id: ReferenceId | None = None
    assignment_id: ReferenceId | None = Field(
        default=None, description="Assignment whose anchor essays grade this batch."
    )


class RegisterBatchResponse(BaseModel):
    batch_id: UUID
    correlation_id: UUID
    status: BatchClientStatus


class PhaseView(BaseModel):
    phase: PhaseName
    status: PhaseStatus
    succeeded_count: int
    failed_count: int
    failure_reason: str | None


class PipelineView(BaseModel):
    """The batch's most recent pipeline run."""

    run_id: UUID
    requested_pipeline: PhaseName
    status: BatchStatus
    phases: list[PhaseView]

    @classmethod
    def of(cls, run: RunRecord, phases: Sequence[PhaseState]) -> PipelineView:
        return cls(
            run_id=run.run_id,
            requested_pipeline=run.requested_pipeline,
            status=run.status,
            phases=[
                PhaseView(
                    phase=p.phase,
                    status=p.status,
                    succeeded_count=p.succeeded_count,
                    failed_count=p.failed_count,
                    failure_reason=p.failure_reason,
                )
                for p in phases
            ],
        )


async def pipeline_views(
    session: AsyncSession, batch_ids: Collection[UUID]
) -> dict[UUID, PipelineView]:
    """Each batch's latest run, for batches that ran a pipeline."""
    repository = PipelineRepository(session)
    runs = await repository.latest(batch_ids)
    phases = await repository.phases_of_runs([run.run_id for run in runs.values()])
    return {batch_id: PipelineView.of(run, phases[run.run_id]) for batch_id, run in runs.items()}


class BatchView(BaseModel):
    batch_id: UUID
    user_id: str
    title: str | None
    course_code: str
    language: str
    class_id: str | None
    assignment_id: str | None
    status: BatchStatus
    client_status: BatchClientStatus
    expected_essay_count: int
    provisioned_count: int
    failed_count: int
    excess_count: int
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    pipeline: PipelineView | None = Field(
        default=None, description="The latest pipeline run, or null if none was requested."
    )

    @classmethod
    def of(cls, batch: BatchRecord, pipeline: PipelineView | None = None) -> BatchView:
        return cls(
            batch_id=batch.batch_id,
            user_id=batch.user_id,
            title=batch.title,
            course_code=batch.course_code,
            language=batch.language,
            class_id=batch.class_id,
            assignment_id=batch.assignment_id,
            status=batch.status,
            client_status=CLIENT_STATUS_FOR[batch.status],
            expected_essay_count=batch.expected_essay_count,
            provisioned_count=batch.provisioned_count,
            failed_count=batch.failed_count,
            excess_count=batch.excess_count,
            failure_reason=batch.failure_reason,
            created_at=batch.created_at,
            updated_at=batch.updated_at,
            pipeline=pipeline,
        )


class ListBatchesQuery(BaseModel):
    user_id: UserId
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    status: BatchClientStatus | None = Field(
        default=None, description="Only batches the teacher sees in this status."
    )


class BatchList(BaseModel):
    items: list[BatchView]
    total: int
    limit: int
    offset: int


STATUSES_FOR_CLIENT: Mapping[BatchClientStatus, frozenset[BatchStatus]] = MappingProxyType(
    {
        client: frozenset(s for s, shown in CLIENT_STATUS_FOR.items() if shown is client)
        for client in BatchClientStatus
    }
)
"""The internal statuses behind each client status (the inverse of CLIENT_STATUS_FOR)."""


def batches_blueprint() -> Blueprint:
    blueprint = Blueprint("batches", __name__, url_prefix="/v1/batches")

    @blueprint.post("")
    @validate_request(RegisterBatchRequest)
    @validate_response(RegisterBatchResponse, 202)
    async def register(
        data: RegisterBatchRequest, uow: FromDishka[UnitOfWork]
    ) -> tuple[RegisterBatchResponse, int]:
        """Store the batch and its essay ids, and record `BatchEssaysRegistered`, atomically."""
        correlation_id = current_correlation_id()
        batch = NewBatch(
            batch_id=uuid4(),
            user_id=data.user_id,
            course_code=data.course_code,
            language=language_for_course(data.course_code),
            expected_essay_count=data.expected_essay_count,
            essay_instructions=data.essay_instructions or "",
            title=data.title,
            class_id=data.class_id,
            assignment_id=data.assignment_id,
        )
        # ELS creates the slots from these ids, so a redelivered registration creates none.
        essay_ids = [uuid4() for _ in range(batch.expected_essay_count)]
        event = BatchEssaysRegistered(
            batch_id=batch.batch_id,
            user_id=batch.user_id,
            expected_essay_count=batch.expected_essay_count,
            essay_ids=essay_ids,
            course_code=batch.course_code,
            language=batch.language,
            essay_instructions=batch.essay_instructions,
            assignment_id=batch.assignment_id,
            title=batch.title,
            class_id=batch.class_id,
        )
        async with uow:
            await BatchRepository(uow.session).create(batch, essay_ids)
            await uow.publish(
                event,
                correlation_id=correlation_id,
                metadata=EventMetadata(traceparent=traceparent_for_current_context()),
            )
            await uow.commit()
        BATCHES_REGISTERED.labels(batch.language).inc()
        _log.info(
            "batch_registered",
            batch_id=str(batch.batch_id),
            expected_essay_count=batch.expected_essay_count,
            language=batch.language,
        )
        return RegisterBatchResponse(
            batch_id=batch.batch_id,
            correlation_id=correlation_id,
            status=CLIENT_STATUS_FOR[BatchStatus.AWAITING_CONTENT],
        ), 202

    @blueprint.get("/<uuid:batch_id>")
    @validate_response(BatchView, 200)
    async def get_batch(batch_id: UUID, uow: FromDishka[UnitOfWork]) -> BatchView:
        async with uow:
            batch = await BatchRepository(uow.session).get(batch_id)
            pipelines = await pipeline_views(uow.session, [batch_id])
        if batch is None:
            raise HttpError(404, ErrorCode.NOT_FOUND, "no such batch", {"batch_id": str(batch_id)})
        return BatchView.of(batch, pipelines.get(batch_id))

    @blueprint.get("")
    @validate_querystring(ListBatchesQuery)
    @validate_response(BatchList, 200)
    async def list_batches(query_args: ListBatchesQuery, uow: FromDishka[UnitOfWork]) -> BatchList:
        """A teacher's batches, newest first, optionally in one client status."""
        statuses = None if query_args.status is None else STATUSES_FOR_CLIENT[query_args.status]
        async with uow:
            page = await BatchRepository(uow.session).list_for_user(
                query_args.user_id,
                statuses=statuses,
                limit=query_args.limit,
                offset=query_args.offset,
            )
            pipelines = await pipeline_views(uow.session, [b.batch_id for b in page.items])
        return BatchList(
            items=[BatchView.of(batch, pipelines.get(batch.batch_id)) for batch in page.items],
            total=page.total,
            limit=query_args.limit,
            offset=query_args.offset,
        )

    return blueprint
