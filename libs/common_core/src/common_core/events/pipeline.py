"""Pipelines: the client's request, BOS's phase commands, ELS's phase outcome, completion."""

from __future__ import annotations

from typing import Literal, Self
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
from common_core.status import BatchStatus, PhaseName, PhaseStatus


class ClientBatchPipelineRequest(ContractModel):
    """gateway → BOS: a teacher asks for a pipeline on a batch.

    Names the last phase wanted; BOS adds the phases it depends on and skips phases the batch
    has already completed.
    """

    batch_id: UUID = Field(description="The batch.")
    requested_pipeline: PhaseName = Field(description="The final phase the teacher wants.")
    user_id: str = Field(
        min_length=1, max_length=255, description="Teacher who asked (already authorised)."
    )


class BatchSpellcheckInitiateCommand(ContractModel):
    """BOS → ELS: start the spellcheck phase for these essays."""

    batch_id: UUID = Field(description="The batch.")
    essays: list[EssayTextRef] = Field(
        min_length=1, max_length=MAX_BATCH_ESSAYS, description="Essays entering the phase."
    )
    language: LanguageCode = Field(description="Language to spellcheck in (ISO 639-1).")

    @model_validator(mode="after")
    def _each_essay_once(self) -> Self:
        require_distinct(e.essay_id for e in self.essays)
        return self


class BatchCJAssessmentInitiateCommand(ContractModel):
    """BOS → ELS: start the comparative-judgement phase for these essays."""

    batch_id: UUID = Field(description="The batch.")
    essays: list[EssayTextRef] = Field(
        min_length=1,
        max_length=MAX_BATCH_ESSAYS,
        description="Essays entering the phase, with their (corrected) text.",
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


class ELSBatchPhaseOutcome(ContractModel):
    """ELS → BOS: every essay of a phase is final; exactly one per batch and phase.

    Succeeded essays carry the text the next phase must use (the corrected text after
    spellcheck). Every essay that entered the phase is in exactly one of the two lists.
    """

    batch_id: UUID = Field(description="The batch.")
    phase: PhaseName = Field(description="The phase that finished.")
    succeeded_essays: list[EssayTextRef] = Field(
        max_length=MAX_BATCH_ESSAYS, description="Essays that passed, with their new text."
    )
    failed_essays: list[FailedEssay] = Field(
        default_factory=list,
        max_length=MAX_BATCH_ESSAYS,
        description="Essays that failed the phase, with the reason.",
    )

    @model_validator(mode="after")
    def _each_essay_once(self) -> Self:
        if not self.succeeded_essays and not self.failed_essays:
            raise ValueError("a phase outcome covers at least one essay")
        require_distinct(
            [e.essay_id for e in self.succeeded_essays] + [e.essay_id for e in self.failed_essays]
        )
        return self

    @property
    def status(self) -> PhaseStatus:
        """The phase's status as BOS records it."""
        if not self.failed_essays:
            return PhaseStatus.COMPLETED
        if self.succeeded_essays:
            return PhaseStatus.COMPLETED_WITH_FAILURES
        return PhaseStatus.FAILED


class PhaseSummary(ContractModel):
    """How one phase of a pipeline ended."""

    phase: PhaseName = Field(description="The phase.")
    status: PhaseStatus = Field(
        description="`skipped` if an earlier run did it; `pending` if never reached."
    )
    succeeded_count: int = Field(ge=0, le=MAX_BATCH_ESSAYS, description="Essays that passed.")
    failed_count: int = Field(ge=0, le=MAX_BATCH_ESSAYS, description="Essays that failed.")


class BatchPipelineCompleted(ContractModel):
    """BOS → RAS: a requested pipeline finished (or stopped at a failed phase)."""

    batch_id: UUID = Field(description="The batch.")
    requested_pipeline: PhaseName = Field(description="The pipeline the client requested.")
    final_status: Literal[
        BatchStatus.COMPLETED_SUCCESSFULLY,
        BatchStatus.COMPLETED_WITH_FAILURES,
        BatchStatus.FAILED,
    ] = Field(description="The batch's status after the pipeline.")
    phases: list[PhaseSummary] = Field(
        min_length=1, description="Every phase of the resolved pipeline, in execution order."
    )

    @model_validator(mode="after")
    def _each_phase_once(self) -> Self:
        if len({p.phase for p in self.phases}) != len(self.phases):
            raise ValueError("a phase is listed more than once")
        return self
