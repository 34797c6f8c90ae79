"""Comparative judgement: one batch-level request and exactly one answer per batch."""

from __future__ import annotations

from typing import Self
from uuid import UUID

from pydantic import Field, model_validator

from common_core.errors import ErrorDetail
from common_core.events.base import (
    MAX_BATCH_ESSAYS,
    ContractModel,
    EssayTextRef,
    FailedEssay,
    LanguageCode,
    require_distinct,
)


class CJAssessmentRequested(ContractModel):
    """ELS → cj_assessment: rank these essays by comparative judgement."""

    batch_id: UUID = Field(description="The batch.")
    essays: list[EssayTextRef] = Field(
        min_length=1, max_length=MAX_BATCH_ESSAYS, description="Essays to rank, with their text."
    )
    course_code: str = Field(min_length=1, max_length=32, description="Course, e.g. `ENG5`.")
    language: LanguageCode = Field(description="Language of the essays (ISO 639-1).")
    essay_instructions: str = Field(
        max_length=20_000, description="The assignment text the students answered."
    )
    assignment_id: str | None = Field(
        default=None, max_length=128, description="Assignment whose anchors project grades."
    )

    @model_validator(mode="after")
    def _each_essay_once(self) -> Self:
        require_distinct(e.essay_id for e in self.essays)
        return self


class CJAssessmentCompleted(ContractModel):
    """cj_assessment → ELS: the batch is ranked; exactly one per batch.

    Thin on purpose: ELS needs only who passed; scores travel in `AssessmentResult`.
    """

    batch_id: UUID = Field(description="The batch.")
    assessed_essay_ids: list[UUID] = Field(
        min_length=1, max_length=MAX_BATCH_ESSAYS, description="Essays that received a rank."
    )
    failed_essays: list[FailedEssay] = Field(
        default_factory=list,
        max_length=MAX_BATCH_ESSAYS,
        description="Essays that could not be ranked, with the reason.",
    )
    comparisons_completed: int = Field(ge=0, description="Valid comparisons the ranking used.")

    @model_validator(mode="after")
    def _each_essay_once(self) -> Self:
        require_distinct([*self.assessed_essay_ids, *(e.essay_id for e in self.failed_essays)])
        return self


class CJAssessmentFailed(ContractModel):
    """cj_assessment → ELS: the batch could not be ranked; every essay fails CJ."""

    batch_id: UUID = Field(description="The batch.")
    error: ErrorDetail = Field(description="Why the assessment failed.")
