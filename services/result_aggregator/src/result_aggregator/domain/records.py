"""The read model's rows as plain values, so the view logic is pure and testable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from common_core.status import BatchStatus, EssayStatus, PhaseName, PhaseStatus


@dataclass(frozen=True)
class BatchRecord:
    batch_id: UUID
    user_id: str | None
    status: BatchStatus
    created_at: datetime
    updated_at: datetime
    title: str | None = None
    class_id: str | None = None
    course_code: str | None = None
    language: str | None = None
    assignment_id: str | None = None
    expected_essay_count: int | None = None
    provisioned_count: int | None = None
    failed_count: int | None = None
    intake_completed_at: datetime | None = None
    requested_pipeline: PhaseName | None = None
    pipeline_started_at: datetime | None = None
    pipeline_finished_at: datetime | None = None
    comparisons_completed: int | None = None
    reliability: float | None = None
    skipped_phases: list[str] = field(default_factory=list)
    last_seq: int = 0
    registered_at: datetime | None = None


@dataclass(frozen=True)
class EssayRecord:
    essay_id: UUID
    batch_id: UUID
    is_anchor: bool = False
    slot_index: int | None = None
    intake_status: EssayStatus | None = None
    intake_failure_code: str | None = None
    intake_failure_message: str | None = None
    file_upload_id: UUID | None = None
    file_name: str | None = None
    original_text_id: str | None = None
    spellcheck_status: EssayStatus | None = None
    corrected_text_id: str | None = None
    error_counts: dict[str, int] | None = None
    corrections: list[dict[str, Any]] | None = None
    spellcheck_failure_code: str | None = None
    spellcheck_failure_message: str | None = None
    spellcheck_result_at: datetime | None = None
    cj_status: EssayStatus | None = None
    cj_rank: int | None = None
    bt_score: float | None = None
    bt_standard_error: float | None = None
    comparison_count: int | None = None
    grade: str | None = None
    grade_probability: float | None = None
    cj_failure_code: str | None = None
    cj_failure_message: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class RejectedFile:
    file_upload_id: UUID
    batch_id: UUID
    file_name: str
    reason: str
    message: str
    arrival: int


@dataclass(frozen=True)
class ExcessFileRecord:
    file_upload_id: UUID
    batch_id: UUID
    file_name: str
    text_id: str
    arrival: int


@dataclass(frozen=True)
class PhaseRecord:
    batch_id: UUID
    phase: PhaseName
    status: PhaseStatus
    essay_count: int | None = None
    succeeded_count: int | None = None
    failed_count: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class BatchFacts:
    """Everything recorded about one batch, as the views need it."""

    batch: BatchRecord
    essays: list[EssayRecord] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    excess: list[ExcessFileRecord] = field(default_factory=list)
    phases: list[PhaseRecord] = field(default_factory=list)
