"""LLM comparisons: cj_assessment asks the LLM provider service to judge one pair of essays.

Names are fixed by the LLM-contracts brief; cj_assessment and llm_provider both build on them.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from common_core.errors import ErrorDetail
from common_core.events.base import ContentId, ContractModel


class ComparisonPrompt(ContractModel):
    """What the judge is told besides the two essays."""

    assignment: str = Field(description="The assignment the essays answer.")
    criteria: str = Field(description="What makes one essay better than another.")
    instructions: str = Field(description="How to answer (format of the verdict).")


class ModelPreference(ContractModel):
    """The caller's wishes for the judge; unset fields fall back to the provider's defaults."""

    provider: str | None = Field(default=None, description="e.g. `anthropic`, `openai`.")
    model: str | None = Field(default=None, description="Provider's model name.")
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling.")
    max_tokens: int | None = Field(default=None, ge=1, description="Answer length limit.")


class ComparisonWinner(StrEnum):
    """Which essay of the pair the judge preferred."""

    ESSAY_A = "essay_a"
    ESSAY_B = "essay_b"


class LLMComparisonRequest(ContractModel):
    """cj_assessment → LPS: judge one pair; LPS answers exactly once on `callback_topic`."""

    request_id: UUID = Field(description="Identity of this comparison; echoed in the result.")
    batch_id: UUID = Field(description="The batch (partition key).")
    callback_topic: str = Field(
        min_length=1, description="Logical topic (no deployment prefix) for the result."
    )
    essay_a_id: UUID = Field(description="First essay of the pair.")
    essay_a_text_id: ContentId = Field(description="content_service id of essay A's text.")
    essay_b_id: UUID = Field(description="Second essay of the pair.")
    essay_b_text_id: ContentId = Field(description="content_service id of essay B's text.")
    prompt: ComparisonPrompt = Field(description="Assignment, criteria and answer format.")
    model_preference: ModelPreference = Field(
        default=ModelPreference(), description="Preferred provider and model."
    )
    priority: int = Field(default=5, ge=0, le=9, description="0 is served first, 9 last.")
    deadline: AwareDatetime = Field(
        description="After this the request is answered with a timeout error."
    )

    @model_validator(mode="after")
    def _two_different_essays(self) -> Self:
        if self.essay_a_id == self.essay_b_id:
            raise ValueError("an essay cannot be compared with itself")
        return self


class LLMComparisonResult(ContractModel):
    """LPS → the requester's `callback_topic`: the verdict on one pair, or why there is none.

    Exactly one of `winner` and `error` is set: an error is never counted as a comparison.
    """

    request_id: UUID = Field(description="The request this answers.")
    batch_id: UUID = Field(description="The batch (partition key).")
    essay_a_id: UUID = Field(description="First essay of the pair.")
    essay_b_id: UUID = Field(description="Second essay of the pair.")
    winner: ComparisonWinner | None = Field(default=None, description="The preferred essay.")
    justification: str | None = Field(default=None, description="The judge's reasoning.")
    confidence: int | None = Field(
        default=None, ge=1, le=5, description="Judge's confidence, 1 (low) to 5 (high)."
    )
    error: ErrorDetail | None = Field(default=None, description="Why there is no verdict.")
    provider: str = Field(description="Provider that answered (or failed).")
    model: str = Field(description="Model that answered (or failed).")
    input_tokens: int = Field(default=0, ge=0, description="Prompt tokens billed.")
    output_tokens: int = Field(default=0, ge=0, description="Completion tokens billed.")
    cached_tokens: int = Field(default=0, ge=0, description="Prompt tokens served from cache.")
    cost_usd: Decimal = Field(default=Decimal("0"), ge=0, description="Cost of the call in USD.")
    latency_ms: float = Field(default=0.0, ge=0, description="Time spent calling the provider.")

    @model_validator(mode="after")
    def _verdict_xor_error(self) -> Self:
        if (self.winner is None) == (self.error is None):
            raise ValueError("exactly one of winner and error must be set")
        return self
