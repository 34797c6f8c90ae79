"""cj_assessment settings: comparison budget, stopping, retries, deadlines and the judge prompt."""

from __future__ import annotations

from pydantic import Field

from huleedu_service_libs.settings import ServiceSettings

DEFAULT_CRITERIA = (
    "Judge the essays as a whole as answers to the assignment: how well the content answers "
    "the task and is developed; structure and cohesion; range and precision of vocabulary; "
    "grammatical accuracy and control of sentences; spelling and punctuation."
)
DEFAULT_INSTRUCTIONS = (
    "Read both essays and decide which one is better overall. Ignore which essay is shown "
    "first and how long each is except where length serves the task. Give the better essay, "
    "a short justification and your confidence from 1 (low) to 5 (high)."
)


class CJAssessmentSettings(ServiceSettings):
    service_name: str = "cj_assessment"
    content_service_url: str = "http://127.0.0.1:8001"
    content_timeout_s: float = Field(default=10.0, gt=0)

    judgements_per_essay_budget: float = Field(
        default=10.0,
        gt=0,
        description="Budget of valid comparisons per item (comparisons / items).",
    )
    max_comparisons_per_batch: int = Field(
        default=10_000, ge=1, description="Hard cap of the budget for very large batches."
    )
    stability_window: int = Field(default=3, ge=1, description="Refits compared for stability.")
    stability_threshold: float = Field(
        default=0.05, gt=0, description="Largest score change (logits) that counts as stable."
    )
    min_judgements_per_essay: float = Field(
        default=3.0, ge=0, description="Judgements per item before stability may stop a batch."
    )
    max_error_retries: int = Field(
        default=2, ge=0, description="Re-requests of a comparison that got an error result."
    )
    request_deadline_s: float = Field(
        default=1800.0, gt=0, description="LPS answers a request with a timeout after this."
    )
    batch_timeout_s: float = Field(
        default=7200.0, gt=0, description="The monitor finishes a batch still open after this."
    )
    monitor_interval_s: float = Field(default=30.0, gt=0, description="Monitor period.")
    request_priority: int = Field(default=5, ge=0, le=9)
    judge_provider: str | None = Field(default=None, description="Preferred LPS provider.")
    judge_model: str | None = Field(default=None, description="Preferred model.")
    judge_temperature: float | None = Field(default=None, ge=0, le=2)
    judge_criteria: str = DEFAULT_CRITERIA
    judge_instructions: str = DEFAULT_INSTRUCTIONS
