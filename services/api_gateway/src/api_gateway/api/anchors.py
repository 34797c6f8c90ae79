"""Anchor essays: a teacher registers texts with known grades for an assignment; a batch that
names the assignment (`assignment_id` at registration) is graded against them."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from api_gateway.api.guard import documents_errors, protect, request_limit
from api_gateway.auth import AuthenticatedTeacher
from api_gateway.clients.cj_assessment import (
    AnchorRegistration,
    AnchorView,
    AssignmentAnchors,
    CJAssessmentClient,
)
from common_core.errors import ErrorCode
from huleedu_service_libs.http import FromDishka, HttpError

MAX_ASSIGNMENT_ID_LENGTH = 128


def checked_assignment_id(assignment_id: str) -> str:
    """The id as batches name it (1-128 printable characters), or a 400."""
    if (
        not assignment_id.strip()
        or len(assignment_id) > MAX_ASSIGNMENT_ID_LENGTH
        or not assignment_id.isprintable()
    ):
        raise HttpError(
            400,
            ErrorCode.VALIDATION_ERROR,
            f"assignment id must be 1..{MAX_ASSIGNMENT_ID_LENGTH} printable characters",
        )
    return assignment_id


def anchors_blueprint() -> Blueprint:
    blueprint = Blueprint("anchors", __name__, url_prefix="/v1/assignments")
    protect(blueprint, request_limit, json_bodies=True)

    @blueprint.post("/<assignment_id>/anchors")
    @validate_request(AnchorRegistration)
    @validate_response(AnchorView, 201)
    @documents_errors(400, 403, 409, 503)
    async def register_anchor(
        assignment_id: str,
        data: AnchorRegistration,
        teacher: FromDishka[AuthenticatedTeacher],
        cj: FromDishka[CJAssessmentClient],
    ) -> tuple[AnchorView, int]:
        """Register an anchor essay with its known grade for one of the teacher's assignments.

        Every anchor of an assignment uses one grade scale; a grade not on it is
        `unknown_grade` (400), another scale is 409, another teacher's assignment is 403.
        """
        assignment_id = checked_assignment_id(assignment_id)
        return await cj.register_anchor(teacher.teacher_id, assignment_id, data), 201

    @blueprint.get("/<assignment_id>/anchors")
    @validate_response(AssignmentAnchors, 200)
    @documents_errors(400, 403, 503)
    async def list_anchors(
        assignment_id: str,
        teacher: FromDishka[AuthenticatedTeacher],
        cj: FromDishka[CJAssessmentClient],
    ) -> AssignmentAnchors:
        """The anchors registered for the assignment, with its grade scale."""
        return await cj.anchors(teacher.teacher_id, checked_assignment_id(assignment_id))

    return blueprint
