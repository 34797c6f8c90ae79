"""The internal HTTP contract: what the gateway reads (it answers teachers in the same shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from common_core.errors import ErrorCode
from common_core.progress import ProgressEvent
from common_core.status import BatchClientStatus, EssayStatus, PhaseName, PhaseStatus


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


class ListBatchesQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    status: BatchClientStatus | None = None


class EssayCounts(BaseModel):
    expected: int
    provisioned: int
    failed: int
    excess: int


class EssayFailure(BaseModel):
    code: ErrorCode
    message: str


class EssayPhase(BaseModel):
    phase: PhaseName
    status: EssayStatus
    text_id: str | None = None
    failure: EssayFailure | None = None
    details: dict[str, Any] | None = None


class EssayState(BaseModel):
    essay_id: UUID
    file_name: str | None
    status: EssayStatus
    failure: EssayFailure | None
    phases: list[EssayPhase] = Field(default_factory=list)


class ExcessFile(BaseModel):
    file_upload_id: UUID
    file_name: str
    failure: EssayFailure | None = None


class BatchStatusView(BaseModel):
    batch_id: UUID
    status: BatchClientStatus
    title: str | None
    course_code: str
    counts: EssayCounts
    essays: list[EssayState]
    excess_files: list[ExcessFile]


class PhaseTiming(BaseModel):
    phase: PhaseName
    status: PhaseStatus
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None = None
    succeeded_count: int | None = None
    failed_count: int | None = None


class PipelineTimings(BaseModel):
    requested_pipeline: PhaseName | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    phases: list[PhaseTiming] = Field(default_factory=list)


class PhaseFailure(BaseModel):
    phase: Literal["intake", "spellcheck", "cj_assessment"]
    code: ErrorCode
    message: str


class EssayResult(BaseModel):
    essay_id: UUID
    file_name: str | None
    status: EssayStatus
    spellcheck_status: EssayStatus | None = None
    cj_status: EssayStatus | None = None
    original_text_id: str | None = None
    corrected_text_id: str | None = None
    error_counts: dict[str, int] = Field(default_factory=dict)
    total_corrections: int | None = None
    rank: int | None = None
    score: float | None = None
    standard_error: float | None = None
    comparison_count: int | None = None
    grade: str | None = None
    grade_probability: float | None = None
    failures: list[PhaseFailure] = Field(default_factory=list)


class AnchorResult(BaseModel):
    essay_id: UUID
    rank: int
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
    essays: list[EssayResult]
    anchors: list[AnchorResult]
    excess_files: list[ExcessFile]


class Correction(BaseModel):
    start: int
    end: int
    original: str
    corrected: str
    category: str


class EssayResultDetail(EssayResult):
    corrections: list[Correction] = Field(default_factory=list)


class ProgressQuery(BaseModel):
    after: int = Field(default=0, ge=0, description="Last `seq` the reader has.")
    limit: int = Field(default=500, ge=1, le=1000)


class ProgressPage(BaseModel):
    events: list[ProgressEvent]
