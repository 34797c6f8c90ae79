"""cj_assessment: keeps the anchor essays (known grades) that project grades for an assignment."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import quote
from uuid import UUID

from pydantic import BaseModel, Field

from api_gateway.clients.upstream import UpstreamClient
from huleedu_service_libs.http import USER_ID_HEADER


class GradeScaleName(StrEnum):
    SWEDISH_F_A = "swedish_f_a"
    ENG5_NP = "eng5_np"


class AnchorRegistration(BaseModel):
    """An anchor essay: a text whose grade the teacher knows, compared alongside the batch."""

    grade_scale: GradeScaleName = Field(description="`swedish_f_a` (F-A) or `eng5_np` (9-step).")
    grade: str = Field(min_length=1, max_length=16, description="The anchor's known grade.")
    label: str = Field(min_length=1, max_length=200, description="The teacher's name for it.")
    text: str = Field(min_length=1, max_length=100_000, description="The anchor essay's text.")


class AnchorView(BaseModel):
    anchor_id: UUID
    assignment_id: str
    grade_scale: GradeScaleName
    grade: str
    label: str
    text_id: str = Field(description="content_service id of the anchor's text.")


class AssignmentAnchors(BaseModel):
    assignment_id: str
    grade_scale: GradeScaleName | None = Field(description="None until an anchor is registered.")
    anchors: list[AnchorView]


class CJAssessmentClient:
    def __init__(self, upstream: UpstreamClient) -> None:
        self._upstream = upstream

    async def register_anchor(
        self, teacher_id: str, assignment_id: str, anchor: AnchorRegistration
    ) -> AnchorView:
        response = await self._upstream.request(
            "POST",
            _anchors_path(assignment_id),
            headers={USER_ID_HEADER: teacher_id},
            json=anchor.model_dump(mode="json"),
        )
        return self._upstream.parse(AnchorView, response)

    async def anchors(self, teacher_id: str, assignment_id: str) -> AssignmentAnchors:
        response = await self._upstream.request(
            "GET",
            _anchors_path(assignment_id),
            headers={USER_ID_HEADER: teacher_id},
        )
        return self._upstream.parse(AssignmentAnchors, response)


def _anchors_path(assignment_id: str) -> str:
    return f"/v1/assignments/{quote(assignment_id, safe='')}/anchors"
