"""The assessment result the teacher sees: one event per batch, one entry per essay."""

from __future__ import annotations

from typing import Self
from uuid import UUID

from pydantic import Field, model_validator

from common_core.events.base import ContractModel, require_distinct


class GradeProjection(ContractModel):
    """A grade projected from the anchor essays, with the model's confidence in it."""

    grade: str = Field(min_length=1, max_length=16, description="Projected grade, e.g. `B`.")
    probability: float = Field(ge=0, le=1, description="Probability of the projected grade.")


class EssayAssessmentResult(ContractModel):
    """One essay's place on the batch's Bradley-Terry scale."""

    essay_id: UUID = Field(description="The essay (or anchor essay).")
    is_anchor: bool = Field(description="An anchor with a known grade, not a student's essay.")
    rank: int = Field(ge=1, description="1 is the best essay of the batch.")
    bt_score: float = Field(description="Bradley-Terry ability on the batch's scale.")
    bt_standard_error: float = Field(ge=0, description="Standard error of `bt_score`.")
    comparison_count: int = Field(ge=0, description="Valid comparisons involving the essay.")
    grade_projection: GradeProjection | None = Field(
        default=None, description="Projected grade; none when the batch has no anchors."
    )


class AssessmentResult(ContractModel):
    """cj_assessment → RAS: ranks, scores and projected grades; exactly one per batch."""

    batch_id: UUID = Field(description="The batch.")
    essays: list[EssayAssessmentResult] = Field(
        min_length=1, description="Every ranked essay, anchors included and flagged."
    )
    comparisons_completed: int = Field(ge=0, description="Valid comparisons the ranking used.")
    reliability: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of the scores' spread that is real rather than judging noise; an "
        "estimate that adaptive pairing does not inflate (near 0 for coin-flip judgements).",
    )

    @model_validator(mode="after")
    def _ranks_are_a_permutation(self) -> Self:
        require_distinct(e.essay_id for e in self.essays)
        if sorted(e.rank for e in self.essays) != list(range(1, len(self.essays) + 1)):
            raise ValueError("ranks must be 1..n, each used once")
        return self
