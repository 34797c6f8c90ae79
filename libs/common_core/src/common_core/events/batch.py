"""Batch registration and the end of content intake."""

from __future__ import annotations

from typing import Self
from uuid import UUID

from pydantic import Field, model_validator

from common_core.events.base import (
    MAX_BATCH_ESSAYS,
    ContractModel,
    EssayTextRef,
    FailedEssay,
    LanguageCode,
    require_distinct,
)


class BatchEssaysRegistered(ContractModel):
    """BOS → ELS, RAS: a batch was registered with one slot per expected essay.

    BOS chooses the essay ids so that slot creation is idempotent under redelivery.
    """

    batch_id: UUID = Field(description="The batch.")
    user_id: str = Field(min_length=1, max_length=255, description="Owning teacher's user id.")
    expected_essay_count: int = Field(
        ge=1, le=MAX_BATCH_ESSAYS, description="Number of essays (slots) the teacher announced."
    )
    essay_ids: list[UUID] = Field(
        min_length=1,
        max_length=MAX_BATCH_ESSAYS,
        description="One id per slot; exactly `expected_essay_count` distinct ids.",
    )
    course_code: str = Field(min_length=1, max_length=32, description="Course, e.g. `ENG5`.")
    language: LanguageCode = Field(description="Language of the essays (ISO 639-1).")
    essay_instructions: str = Field(
        max_length=20_000, description="The assignment text the students answered."
    )
    assignment_id: str | None = Field(
        default=None,
        max_length=128,
        description="Assignment whose anchor essays grade this batch; none means no grades.",
    )
    title: str | None = Field(
        default=None, max_length=255, description="The teacher's name for the batch."
    )
    class_id: str | None = Field(default=None, max_length=128, description="The teacher's class.")

    @model_validator(mode="after")
    def _one_id_per_slot(self) -> Self:
        if len(self.essay_ids) != self.expected_essay_count:
            raise ValueError("essay_ids must hold exactly expected_essay_count ids")
        require_distinct(self.essay_ids)
        return self


class BatchContentProvisioningCompleted(ContractModel):
    """ELS → BOS, RAS: every slot of the batch is filled or failed; intake is over.

    A summary for status views; `BatchEssaysReady` carries the essays themselves.
    """

    batch_id: UUID = Field(description="The batch.")
    expected_essay_count: int = Field(
        ge=1, le=MAX_BATCH_ESSAYS, description="Slots registered for the batch."
    )
    provisioned_count: int = Field(
        ge=0, le=MAX_BATCH_ESSAYS, description="Slots filled with valid content."
    )
    failed_count: int = Field(
        ge=0, le=MAX_BATCH_ESSAYS, description="Slots closed by a validation failure."
    )

    @model_validator(mode="after")
    def _counts_fit_slots(self) -> Self:
        if self.provisioned_count + self.failed_count > self.expected_essay_count:
            raise ValueError("provisioned_count + failed_count exceeds expected_essay_count")
        return self


class BatchEssaysReady(ContractModel):
    """ELS → BOS: the batch's usable essays (and failed slots), for pipelines to run on.

    Failed slots are listed with their reasons so they are reported, never dropped. An empty
    `ready_essays` means nothing can be processed and BOS fails the batch.
    """

    batch_id: UUID = Field(description="The batch.")
    ready_essays: list[EssayTextRef] = Field(
        max_length=MAX_BATCH_ESSAYS, description="Essays with valid content, and their text."
    )
    failed_essays: list[FailedEssay] = Field(
        default_factory=list,
        max_length=MAX_BATCH_ESSAYS,
        description="Slots that failed validation, with the reason.",
    )

    @model_validator(mode="after")
    def _each_essay_once(self) -> Self:
        require_distinct(
            [e.essay_id for e in self.ready_essays] + [e.essay_id for e in self.failed_essays]
        )
        return self
