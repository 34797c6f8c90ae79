"""HTTP API: a teacher's anchor essays for an assignment (the gateway proxies these paths).

The gateway authenticates the teacher and passes their id in `X-User-ID`. The teacher who
registers an assignment's first anchor owns its anchors and fixes its grade scale: another
teacher gets 403, another scale 409. Anchor texts are stored in content_service; only their
content ids are kept here.
"""

from __future__ import annotations

import uuid
from uuid import UUID

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_request, validate_response

from cj_assessment.grade_scales import GradeScaleName, grade_scale, is_grade_on
from cj_assessment.metrics import ANCHORS_REGISTERED
from cj_assessment.repository import AnchorRow, AssignmentRow, CJRepository
from common_core.errors import ErrorCode
from huleedu_service_libs.content_client import (
    TEXT_MEDIA_TYPE,
    ContentClient,
    ContentRefusedError,
    ContentServiceUnavailableError,
)
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.http import (
    USER_ID_HEADER,
    FromDishka,
    HttpError,
    acting_user_id,
    current_correlation_id,
)

MAX_ASSIGNMENT_ID_LENGTH = 128
MAX_ANCHOR_CHARACTERS = 100_000


class AnchorRegistration(BaseModel):
    grade_scale: GradeScaleName = Field(description="`swedish_f_a` (F-A) or `eng5_np` (9-step).")
    grade: str = Field(min_length=1, max_length=16, description="The anchor's known grade.")
    label: str = Field(min_length=1, max_length=200, description="Teacher's name for it.")
    text: str = Field(
        min_length=1, max_length=MAX_ANCHOR_CHARACTERS, description="The anchor essay."
    )


class AnchorView(BaseModel):
    anchor_id: UUID
    assignment_id: str
    grade_scale: GradeScaleName
    grade: str
    label: str
    text_id: str


class AssignmentAnchors(BaseModel):
    assignment_id: str
    grade_scale: GradeScaleName | None = Field(description="None until an anchor is registered.")
    anchors: list[AnchorView]


def _user_id() -> str:
    user_id = acting_user_id()
    if user_id is None:
        raise HttpError(
            401, ErrorCode.UNAUTHORIZED, f"header {USER_ID_HEADER} must name the teacher"
        )
    return user_id


def _check_assignment_id(assignment_id: str) -> None:
    if not assignment_id.strip() or len(assignment_id) > MAX_ASSIGNMENT_ID_LENGTH:
        raise HttpError(
            400,
            ErrorCode.VALIDATION_ERROR,
            f"assignment id must be 1..{MAX_ASSIGNMENT_ID_LENGTH} characters",
        )


def _check_access(
    assignment: AssignmentRow | None, user_id: str, scale: GradeScaleName | None
) -> None:
    if assignment is None:
        return
    if assignment.owner_user_id != user_id:
        raise HttpError(403, ErrorCode.FORBIDDEN, "the assignment's anchors belong to another user")
    if scale is not None and assignment.grade_scale is not scale:
        raise HttpError(
            409,
            ErrorCode.CONFLICT,
            f"the assignment's anchors use grade scale {assignment.grade_scale.value}",
            {"grade_scale": assignment.grade_scale.value},
        )


def _view(anchor: AnchorRow, scale: GradeScaleName) -> AnchorView:
    return AnchorView(
        anchor_id=anchor.anchor_id,
        assignment_id=anchor.assignment_id,
        grade_scale=scale,
        grade=anchor.grade,
        label=anchor.label,
        text_id=anchor.text_id,
    )


def anchors_blueprint() -> Blueprint:
    blueprint = Blueprint("anchors", __name__, url_prefix="/v1")

    @blueprint.post("/assignments/<assignment_id>/anchors")
    @validate_request(AnchorRegistration)
    @validate_response(AnchorView, 201)
    async def register_anchor(
        assignment_id: str,
        data: AnchorRegistration,
        uow: FromDishka[UnitOfWork],
        content: FromDishka[ContentClient],
    ) -> tuple[AnchorView, int]:
        """Register an anchor essay with a known grade; its text goes to content_service."""
        user_id = _user_id()
        _check_assignment_id(assignment_id)
        if not is_grade_on(data.grade_scale, data.grade):
            raise HttpError(
                400,
                ErrorCode.UNKNOWN_GRADE,
                f"grade {data.grade!r} is not on scale {data.grade_scale.value}",
                {"grades": list(grade_scale(data.grade_scale).labels)},
            )
        async with uow:
            _check_access(
                await CJRepository(uow.session).assignment(assignment_id), user_id, data.grade_scale
            )
        try:
            text_id = await content.store(
                data.text.encode(), TEXT_MEDIA_TYPE, correlation_id=current_correlation_id()
            )
        except ContentRefusedError as error:
            raise HttpError(400, ErrorCode.VALIDATION_ERROR, str(error)) from error
        except ContentServiceUnavailableError as error:
            raise HttpError(
                503, ErrorCode.SERVICE_UNAVAILABLE, "content_service is unavailable"
            ) from error
        anchor = AnchorRow(uuid.uuid4(), assignment_id, data.grade, data.label, text_id)
        async with uow:
            repo = CJRepository(uow.session)
            # Decided again under the assignment's row lock: two first anchors may race.
            assignment = await repo.claim_assignment(assignment_id, user_id, data.grade_scale)
            _check_access(assignment, user_id, data.grade_scale)
            await repo.insert_anchor(anchor)
            await uow.commit()
        ANCHORS_REGISTERED.labels(data.grade_scale.value).inc()
        return _view(anchor, data.grade_scale), 201

    @blueprint.get("/assignments/<assignment_id>/anchors")
    @validate_response(AssignmentAnchors, 200)
    async def list_anchors(assignment_id: str, uow: FromDishka[UnitOfWork]) -> AssignmentAnchors:
        """The assignment's anchors, oldest first; none yet is an empty list."""
        user_id = _user_id()
        _check_assignment_id(assignment_id)
        async with uow:
            repo = CJRepository(uow.session)
            assignment = await repo.assignment(assignment_id)
            _check_access(assignment, user_id, None)
            found = await repo.anchors(assignment_id)
        if assignment is None:
            return AssignmentAnchors(assignment_id=assignment_id, grade_scale=None, anchors=[])
        return AssignmentAnchors(
            assignment_id=assignment_id,
            grade_scale=assignment.grade_scale,
            anchors=[_view(anchor, assignment.grade_scale) for anchor in found],
        )

    return blueprint
