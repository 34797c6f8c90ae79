"""Spellcheck: one request and one result per essay."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Self
from uuid import UUID

from pydantic import Field, PositiveInt, model_validator

from common_core.errors import ErrorDetail
from common_core.events.base import ContentId, ContractModel, LanguageCode


class CorrectionCategory(StrEnum):
    """Kinds of correction the spellchecker counts separately."""

    SPELLING = "spelling"
    LEARNER_ERROR = "learner_error"
    CAPITALIZATION = "capitalization"
    PUNCTUATION = "punctuation"


class EssaySpellcheckRequested(ContractModel):
    """ELS → spellchecker: correct one essay's text."""

    batch_id: UUID = Field(description="The batch.")
    essay_id: UUID = Field(description="The essay.")
    text_id: ContentId = Field(description="content_service id of the text to correct.")
    language: LanguageCode = Field(description="Language of the essay (ISO 639-1).")


class SpellcheckCorrection(ContractModel):
    """One change the spellchecker made, located in the original text."""

    start: int = Field(ge=0, description="Offset (code points) of the change in the original.")
    end: int = Field(ge=0, description="End offset (exclusive) in the original.")
    original: str = Field(description="Text that was replaced.")
    corrected: str = Field(description="Replacement text.")
    category: CorrectionCategory = Field(description="Kind of correction.")

    @model_validator(mode="after")
    def _ordered_offsets(self) -> Self:
        if self.end < self.start:
            raise ValueError("end must not precede start")
        return self


class SpellcheckResult(ContractModel):
    """spellchecker → ELS, RAS: one essay's corrected text and counts, or its failure."""

    batch_id: UUID = Field(description="The batch.")
    essay_id: UUID = Field(description="The essay.")
    original_text_id: ContentId = Field(description="content_service id of the checked text.")
    corrected_text_id: ContentId | None = Field(
        default=None, description="content_service id of the corrected text; none on failure."
    )
    error_counts: dict[CorrectionCategory, PositiveInt] = Field(
        default_factory=dict,
        description="Corrections per category; categories without corrections are omitted.",
    )
    corrections: list[SpellcheckCorrection] = Field(
        default_factory=list, description="Every correction, in text order."
    )
    error: ErrorDetail | None = Field(default=None, description="Why the essay failed.")

    @model_validator(mode="after")
    def _outcome_is_consistent(self) -> Self:
        if (self.corrected_text_id is None) == (self.error is None):
            raise ValueError("exactly one of corrected_text_id and error must be set")
        if self.error is not None and self.corrections:
            raise ValueError("a failed spellcheck carries no corrections")
        if Counter(c.category for c in self.corrections) != self.error_counts:
            raise ValueError("error_counts must count the corrections by category")
        return self

    @property
    def succeeded(self) -> bool:
        return self.error is None

    @property
    def total_corrections(self) -> int:
        return len(self.corrections)
