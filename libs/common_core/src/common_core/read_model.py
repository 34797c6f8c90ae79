"""The teacher's read model over HTTP: result_aggregator serves these shapes and the gateway
answers teachers with them unchanged, so both validate against one definition."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from common_core.errors import ErrorCode
from common_core.status import BatchClientStatus, EssayStatus, PhaseName, PhaseStatus


class ListBatchesQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    status: BatchClientStatus | None = None


class BatchSummary(BaseModel):
    batch_id: UUID
    title: str | None
    course_code: str
    class_id: str | None
    status: BatchClientStatus
    expected_essay_count: int
    provisioned_count: int
    failed_count: int
    excess_count: int
    created_at: datetime
    updated_at: datetime


class BatchList(BaseModel):
    items: list[BatchSummary]
    total: int
    limit: int
    offset: int


class EssayCounts(BaseModel):
    expected: int = Field(description="Essays the teacher announced (slots).")
    provisioned: int = Field(description="Slots filled with valid content.")
    failed: int = Field(description="Slots closed by a file that failed validation.")
    excess: int = Field(description="Valid files beyond the announced count.")


class EssayFailure(BaseModel):
    code: ErrorCode
    message: str


class EssayPhase(BaseModel):
    phase: PhaseName
    status: EssayStatus = Field(description="The essay's status in this phase.")
    text_id: str | None = Field(
        default=None, description="Text the phase produced (spellcheck: the corrected text)."
    )
    failure: EssayFailure | None = Field(default=None, description="Why the phase failed it.")
    details: dict[str, Any] | None = Field(
        default=None, description="What the phase reported (spellcheck: error counts)."
    )


class EssayState(BaseModel):
    essay_id: UUID
    file_name: str | None
    status: EssayStatus
    failure: EssayFailure | None
    phases: list[EssayPhase] = Field(
        default_factory=list, description="The phases the essay went through, in order."
    )


class ExcessFile(BaseModel):
    """A file that arrived after every slot was taken: kept and shown, never dropped."""

    file_upload_id: UUID
    file_name: str
    failure: EssayFailure | None = Field(
        default=None, description="Why the surplus file failed validation, if it did."
    )


class BatchStatusView(BaseModel):
    batch_id: UUID
    status: BatchClientStatus
    title: str | None
    course_code: str
    counts: EssayCounts
    essays: list[EssayState] = Field(description="Every slot in slot order, with its file name.")
    excess_files: list[ExcessFile]


class PhaseTiming(BaseModel):
    phase: PhaseName
    status: PhaseStatus
    started_at: datetime | None = Field(description="When the phase's command was seen.")
    finished_at: datetime | None = Field(description="When the phase's outcome was seen.")
    duration_s: float | None = None
    succeeded_count: int | None = None
    failed_count: int | None = None


class PipelineTimings(BaseModel):
    requested_pipeline: PhaseName | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    phases: list[PhaseTiming] = Field(default_factory=list, description="In execution order.")


class PhaseFailure(BaseModel):
    """Why an essay failed a step: `intake` (its file), `spellcheck` or `cj_assessment`."""

    phase: Literal["intake", "spellcheck", "cj_assessment"]
    code: ErrorCode
    message: str


class EssayResult(BaseModel):
    essay_id: UUID
    file_name: str | None
    status: EssayStatus = Field(description="The essay's latest status.")
    spellcheck_status: EssayStatus | None = None
    cj_status: EssayStatus | None = None
    original_text_id: str | None = None
    corrected_text_id: str | None = None
    error_counts: dict[str, int] = Field(default_factory=dict)
    total_corrections: int | None = None
    rank: int | None = Field(default=None, description="Rank among the student essays, 1 = best.")
    score: float | None = Field(default=None, description="Bradley-Terry score.")
    standard_error: float | None = None
    comparison_count: int | None = None
    grade: str | None = Field(default=None, description="Grade projected from the anchors.")
    grade_probability: float | None = None
    failures: list[PhaseFailure] = Field(default_factory=list)


class AnchorResult(BaseModel):
    """An anchor essay (known grade) on the batch's scale; never counted as a student's."""

    essay_id: UUID
    rank: int = Field(description="Rank on the whole scale, anchors included.")
    score: float
    standard_error: float
    grade: str | None = None
    grade_probability: float | None = None


class BatchResults(BaseModel):
    batch_id: UUID
    status: BatchClientStatus
    title: str | None
    course_code: str
    comparisons_completed: int | None = None
    reliability: float | None = Field(
        default=None, description="How much of the scale is real, not judging noise (0-1)."
    )
    timings: PipelineTimings
    essays: list[EssayResult] = Field(description="Student essays: by rank, then file name.")
    anchors: list[AnchorResult]
    excess_files: list[ExcessFile]


class Correction(BaseModel):
    start: int = Field(description="Offset (code points) in the original text.")
    end: int = Field(description="End offset (exclusive) in the original text.")
    original: str
    corrected: str
    category: str


class EssayResultDetail(EssayResult):
    corrections: list[Correction] = Field(default_factory=list, description="In text order.")
