"""HTTP API: `GET /v1/batches/{batch_id}/essays`, the intake and phase state of one batch.

Read by the gateway for the teacher's status view: slots in order with each essay's state,
file name and phases (status and failure per phase), failures with their reason, surplus
uploads, and uploads still waiting for the batch's registration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_response

from common_core.errors import ErrorCode
from common_core.status import EssayStatus, PhaseName
from essay_lifecycle.phase_repository import PhaseEssay, PhaseRepository
from essay_lifecycle.repository import EssayRepository
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.http import FromDishka, HttpError


class FailureView(BaseModel):
    code: ErrorCode
    message: str


class EssayPhaseView(BaseModel):
    phase: PhaseName
    status: EssayStatus = Field(description="The essay's latest status in this phase.")
    text_id: str | None = Field(description="The text the phase produced, once it succeeded.")
    failure: FailureView | None = Field(description="Why the essay failed the phase, if it did.")
    details: dict[str, Any] | None = Field(
        default=None, description="What the phase reported (spellcheck: error counts)."
    )


class EssayView(BaseModel):
    essay_id: UUID
    status: EssayStatus
    original_file_name: str | None
    file_upload_id: UUID | None
    text_id: str | None
    failure: FailureView | None
    phases: list[EssayPhaseView] = Field(
        default_factory=list, description="The phases the essay entered, in the order they ran."
    )


class ExcessView(BaseModel):
    file_upload_id: UUID
    original_file_name: str
    text_id: str | None = Field(description="None for a surplus validation failure.")
    failure: FailureView | None = Field(description="Why the surplus file failed, if it did.")


class BatchEssaysResponse(BaseModel):
    batch_id: UUID
    registered: bool
    expected_essay_count: int | None
    intake_completed_at: datetime | None
    essays: list[EssayView] = Field(description="One entry per slot, in slot order.")
    excess: list[ExcessView] = Field(description="Uploads that found every slot taken.")
    pending_content: int = Field(description="Uploads waiting for the batch's registration.")


def _failure(code: str | None, message: str | None) -> FailureView | None:
    if code is None:
        return None
    return FailureView(code=ErrorCode(code), message=message or "")


def _phase_view(essay: PhaseEssay) -> EssayPhaseView:
    return EssayPhaseView(
        phase=essay.phase,
        status=essay.status,
        text_id=essay.new_text_id,
        failure=(
            None
            if essay.error is None
            else FailureView(code=essay.error.code, message=essay.error.message)
        ),
        details=essay.details,
    )


def essays_blueprint() -> Blueprint:
    blueprint = Blueprint("essays", __name__, url_prefix="/v1/batches")

    @blueprint.get("/<batch_id>/essays")
    @validate_response(BatchEssaysResponse, 200)
    async def batch_essays(batch_id: str, uow: FromDishka[UnitOfWork]) -> BatchEssaysResponse:
        try:
            batch_uuid = UUID(batch_id)
        except ValueError:
            raise HttpError(404, ErrorCode.NOT_FOUND, "no such batch") from None
        async with uow:
            repository = EssayRepository(uow.session)
            await repository.read_one_snapshot()
            batch = await repository.get_batch(batch_uuid)
            slots = await repository.essays_of(batch_uuid) if batch is not None else []
            excess = await repository.excess_of(batch_uuid)
            pending = await repository.pending_count(batch_uuid)
            phase_records = await PhaseRepository(uow.session).phases_of_batch(batch_uuid)
        phases: dict[UUID, list[EssayPhaseView]] = {}
        for record in phase_records:
            phases.setdefault(record.essay_id, []).append(_phase_view(record))
        if batch is None and not excess and pending == 0:
            raise HttpError(404, ErrorCode.NOT_FOUND, "no such batch")
        return BatchEssaysResponse(
            batch_id=batch_uuid,
            registered=batch is not None,
            expected_essay_count=batch.expected_essay_count if batch is not None else None,
            intake_completed_at=batch.intake_completed_at if batch is not None else None,
            essays=[
                EssayView(
                    essay_id=slot.essay_id,
                    status=slot.status,
                    original_file_name=slot.original_file_name,
                    file_upload_id=slot.file_upload_id,
                    text_id=slot.text_id,
                    failure=_failure(slot.failure_code, slot.failure_message),
                    phases=phases.get(slot.essay_id, []),
                )
                for slot in slots
            ],
            excess=[
                ExcessView(
                    file_upload_id=upload.file_upload_id,
                    original_file_name=upload.original_file_name,
                    text_id=upload.text_id,
                    failure=_failure(upload.failure_code, upload.failure_message),
                )
                for upload in excess
            ],
            pending_content=pending,
        )

    return blueprint
