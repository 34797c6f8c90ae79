"""Cross-field rules of the contracts, and the enums' shape."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError
from pydantic.json_schema import models_json_schema

from common_core import status
from common_core.errors import FILE_VALIDATION_ERROR_CODES, ErrorCode, ErrorDetail
from common_core.events import (
    REGISTRY,
    AssessmentResult,
    BatchContentProvisioningCompleted,
    BatchEssaysReady,
    BatchEssaysRegistered,
    BatchPipelineCompleted,
    BatchSpellcheckInitiateCommand,
    ComparisonPrompt,
    ComparisonWinner,
    CorrectionCategory,
    ELSBatchPhaseOutcome,
    EssayAssessmentResult,
    EssayTextRef,
    EssayValidationFailed,
    FailedEssay,
    LLMComparisonRequest,
    LLMComparisonResult,
    PhaseSummary,
    SpellcheckCorrection,
    SpellcheckResult,
)
from common_core.events.llm import ModelPreference
from common_core.status import (
    CLIENT_STATUS_FOR,
    PHASE_ESSAY_STATUSES,
    BatchStatus,
    EssayStatus,
    PhaseName,
    PhaseStatus,
)

TEXT_A = "a" * 64
TEXT_B = "b" * 64


def _error(code: ErrorCode = ErrorCode.PROCESSING_FAILED) -> ErrorDetail:
    return ErrorDetail(code=code, message="it broke", service="test")


def _comparison(**overrides: Any) -> LLMComparisonResult:
    fields: dict[str, Any] = {
        "request_id": uuid4(),
        "batch_id": uuid4(),
        "essay_a_id": uuid4(),
        "essay_b_id": uuid4(),
        "provider": "offline",
        "model": "judge-1",
    }
    return LLMComparisonResult(**{**fields, **overrides})


class TestLLMComparisonResult:
    def test_a_verdict_is_accepted(self) -> None:
        result = _comparison(winner=ComparisonWinner.ESSAY_B, confidence=4)
        assert result.winner is ComparisonWinner.ESSAY_B
        assert result.cost_usd == Decimal("0")

    def test_an_error_is_accepted(self) -> None:
        assert _comparison(error=_error(ErrorCode.LLM_PROVIDER_ERROR)).winner is None

    def test_both_winner_and_error_is_rejected(self) -> None:
        with pytest.raises(ValidationError, match="exactly one of winner and error"):
            _comparison(winner=ComparisonWinner.ESSAY_A, error=_error())

    def test_neither_winner_nor_error_is_rejected(self) -> None:
        with pytest.raises(ValidationError, match="exactly one of winner and error"):
            _comparison()

    @pytest.mark.parametrize(
        "overrides",
        [{"confidence": 0}, {"confidence": 6}, {"input_tokens": -1}, {"latency_ms": -0.5}],
    )
    def test_out_of_range_numbers_are_rejected(self, overrides: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            _comparison(winner=ComparisonWinner.ESSAY_A, **overrides)


def _request(**overrides: Any) -> LLMComparisonRequest:
    fields: dict[str, Any] = {
        "request_id": uuid4(),
        "batch_id": uuid4(),
        "callback_topic": "huleedu.llm.comparison.completed.v1",
        "essay_a_id": uuid4(),
        "essay_a_text_id": TEXT_A,
        "essay_b_id": uuid4(),
        "essay_b_text_id": TEXT_B,
        "prompt": ComparisonPrompt(assignment="Argue", criteria="Clarity", instructions="A or B"),
        "deadline": datetime.now(UTC) + timedelta(minutes=5),
    }
    return LLMComparisonRequest(**{**fields, **overrides})


class TestLLMComparisonRequest:
    def test_defaults_match_the_llm_brief(self) -> None:
        request = _request()
        assert request.priority == 5
        assert request.model_preference == ModelPreference()

    def test_a_naive_deadline_is_rejected(self) -> None:
        with pytest.raises(ValidationError):
            _request(deadline=datetime(2030, 1, 1))

    def test_an_essay_is_not_compared_with_itself(self) -> None:
        essay_id = uuid4()
        with pytest.raises(ValidationError, match="compared with itself"):
            _request(essay_a_id=essay_id, essay_b_id=essay_id)

    @pytest.mark.parametrize("priority", [-1, 10])
    def test_priority_is_0_to_9(self, priority: int) -> None:
        with pytest.raises(ValidationError):
            _request(priority=priority)


def _registered(count: int, ids: list[UUID]) -> BatchEssaysRegistered:
    return BatchEssaysRegistered(
        batch_id=uuid4(),
        user_id="teacher-1",
        expected_essay_count=count,
        essay_ids=ids,
        course_code="ENG5",
        language="en",
        essay_instructions="Write about your summer.",
    )


class TestBatchEssaysRegistered:
    def test_one_id_per_expected_essay(self) -> None:
        assert _registered(2, [uuid4(), uuid4()]).expected_essay_count == 2

    @pytest.mark.parametrize("count", [0, 501])
    def test_expected_count_is_1_to_500(self, count: int) -> None:
        with pytest.raises(ValidationError):
            _registered(count, [uuid4()])

    def test_id_count_must_match(self) -> None:
        with pytest.raises(ValidationError, match="exactly expected_essay_count"):
            _registered(3, [uuid4(), uuid4()])

    def test_ids_must_be_distinct(self) -> None:
        essay_id = uuid4()
        with pytest.raises(ValidationError, match="more than once"):
            _registered(2, [essay_id, essay_id])

    @pytest.mark.parametrize("language", ["EN", "eng", "e"])
    def test_language_is_an_iso_639_1_code(self, language: str) -> None:
        with pytest.raises(ValidationError):
            BatchEssaysRegistered.model_validate(
                {**_registered(1, [uuid4()]).model_dump(), "language": language}
            )


def test_provisioning_counts_cannot_exceed_the_slots() -> None:
    with pytest.raises(ValidationError, match="exceeds"):
        BatchContentProvisioningCompleted(
            batch_id=uuid4(), expected_essay_count=3, provisioned_count=2, failed_count=2
        )


def test_an_essay_is_ready_or_failed_never_both() -> None:
    essay_id = uuid4()
    with pytest.raises(ValidationError, match="more than once"):
        BatchEssaysReady(
            batch_id=uuid4(),
            ready_essays=[EssayTextRef(essay_id=essay_id, text_id=TEXT_A)],
            failed_essays=[FailedEssay(essay_id=essay_id, error=_error())],
        )


@pytest.mark.parametrize("text_id", ["A" * 64, "a" * 63, "sha256:" + "a" * 64, ""])
def test_content_ids_are_lowercase_sha256_hex(text_id: str) -> None:
    with pytest.raises(ValidationError):
        EssayTextRef(essay_id=uuid4(), text_id=text_id)


def test_a_phase_command_lists_each_essay_once() -> None:
    ref = EssayTextRef(essay_id=uuid4(), text_id=TEXT_A)
    with pytest.raises(ValidationError, match="more than once"):
        BatchSpellcheckInitiateCommand(batch_id=uuid4(), essays=[ref, ref], language="en")


class TestELSBatchPhaseOutcome:
    def _outcome(self, succeeded: int, failed: int) -> ELSBatchPhaseOutcome:
        return ELSBatchPhaseOutcome(
            batch_id=uuid4(),
            phase=PhaseName.SPELLCHECK,
            succeeded_essays=[EssayTextRef(essay_id=uuid4(), text_id=TEXT_B)] * succeeded,
            failed_essays=[FailedEssay(essay_id=uuid4(), error=_error()) for _ in range(failed)],
        )

    @pytest.mark.parametrize(
        ("succeeded", "failed", "expected"),
        [
            (1, 0, PhaseStatus.COMPLETED),
            (1, 2, PhaseStatus.COMPLETED_WITH_FAILURES),
            (0, 2, PhaseStatus.FAILED),
        ],
    )
    def test_status_follows_the_lists(
        self, succeeded: int, failed: int, expected: PhaseStatus
    ) -> None:
        assert self._outcome(succeeded, failed).status is expected

    def test_an_empty_outcome_is_rejected(self) -> None:
        with pytest.raises(ValidationError, match="at least one essay"):
            self._outcome(0, 0)

    def test_an_essay_cannot_both_pass_and_fail(self) -> None:
        essay_id = uuid4()
        with pytest.raises(ValidationError, match="more than once"):
            ELSBatchPhaseOutcome(
                batch_id=uuid4(),
                phase=PhaseName.CJ_ASSESSMENT,
                succeeded_essays=[EssayTextRef(essay_id=essay_id, text_id=TEXT_A)],
                failed_essays=[FailedEssay(essay_id=essay_id, error=_error())],
            )


def test_a_pipeline_lists_each_phase_once() -> None:
    summary = PhaseSummary(
        phase=PhaseName.SPELLCHECK, status=PhaseStatus.COMPLETED, succeeded_count=2, failed_count=0
    )
    with pytest.raises(ValidationError, match="more than once"):
        BatchPipelineCompleted(
            batch_id=uuid4(),
            requested_pipeline=PhaseName.SPELLCHECK,
            final_status=BatchStatus.COMPLETED_SUCCESSFULLY,
            phases=[summary, summary],
        )


def test_a_pipeline_ends_in_a_completed_or_failed_status() -> None:
    summary = PhaseSummary(
        phase=PhaseName.SPELLCHECK, status=PhaseStatus.COMPLETED, succeeded_count=2, failed_count=0
    )
    with pytest.raises(ValidationError):
        BatchPipelineCompleted(
            batch_id=uuid4(),
            requested_pipeline=PhaseName.SPELLCHECK,
            final_status=BatchStatus.PROCESSING,
            phases=[summary],
        )


def _correction(category: CorrectionCategory, start: int = 0) -> SpellcheckCorrection:
    return SpellcheckCorrection(
        start=start, end=start + 4, original="teh ", corrected="the ", category=category
    )


def _spellcheck(**overrides: Any) -> SpellcheckResult:
    fields: dict[str, Any] = {"batch_id": uuid4(), "essay_id": uuid4(), "original_text_id": TEXT_A}
    return SpellcheckResult(**{**fields, **overrides})


class TestSpellcheckResult:
    def test_success_counts_corrections_by_category(self) -> None:
        corrections = [
            _correction(CorrectionCategory.SPELLING, 0),
            _correction(CorrectionCategory.SPELLING, 10),
            _correction(CorrectionCategory.CAPITALIZATION, 20),
        ]
        result = _spellcheck(
            corrected_text_id=TEXT_B,
            corrections=corrections,
            error_counts={"spelling": 2, "capitalization": 1},
        )
        assert result.succeeded
        assert result.total_corrections == 3

    def test_counts_that_disagree_with_the_corrections_are_rejected(self) -> None:
        with pytest.raises(ValidationError, match="error_counts"):
            _spellcheck(
                corrected_text_id=TEXT_B,
                corrections=[_correction(CorrectionCategory.SPELLING)],
                error_counts={"spelling": 2},
            )

    def test_a_failure_carries_an_error_and_no_text(self) -> None:
        assert not _spellcheck(error=_error(ErrorCode.CONTENT_UNAVAILABLE)).succeeded

    def test_neither_text_nor_error_is_rejected(self) -> None:
        with pytest.raises(ValidationError, match="exactly one of"):
            _spellcheck()

    def test_both_text_and_error_is_rejected(self) -> None:
        with pytest.raises(ValidationError, match="exactly one of"):
            _spellcheck(corrected_text_id=TEXT_B, error=_error())

    def test_a_correction_cannot_end_before_it_starts(self) -> None:
        with pytest.raises(ValidationError, match="precede"):
            SpellcheckCorrection(
                start=5, end=4, original="x", corrected="y", category=CorrectionCategory.SPELLING
            )


def _assessed(rank: int, essay_id: UUID | None = None) -> EssayAssessmentResult:
    return EssayAssessmentResult(
        essay_id=essay_id or uuid4(),
        is_anchor=False,
        rank=rank,
        bt_score=0.5,
        bt_standard_error=0.1,
        comparison_count=4,
    )


class TestAssessmentResult:
    def test_ranks_form_a_permutation(self) -> None:
        result = AssessmentResult(
            batch_id=uuid4(), essays=[_assessed(2), _assessed(1)], comparisons_completed=1
        )
        assert sorted(e.rank for e in result.essays) == [1, 2]

    @pytest.mark.parametrize("ranks", [[1, 1], [1, 3], [2, 3]])
    def test_ranks_with_gaps_or_repeats_are_rejected(self, ranks: list[int]) -> None:
        with pytest.raises(ValidationError, match="ranks"):
            AssessmentResult(
                batch_id=uuid4(), essays=[_assessed(r) for r in ranks], comparisons_completed=1
            )

    def test_an_essay_appears_once(self) -> None:
        essay_id = uuid4()
        with pytest.raises(ValidationError, match="more than once"):
            AssessmentResult(
                batch_id=uuid4(),
                essays=[_assessed(1, essay_id), _assessed(2, essay_id)],
                comparisons_completed=1,
            )


class TestEssayValidationFailed:
    def _failed(self, reason: ErrorCode) -> EssayValidationFailed:
        return EssayValidationFailed(
            batch_id=uuid4(),
            file_upload_id=uuid4(),
            original_file_name="essay.pdf",
            reason=reason,
            message="The PDF is password protected.",
        )

    @pytest.mark.parametrize("reason", sorted(FILE_VALIDATION_ERROR_CODES))
    def test_file_validation_codes_are_accepted(self, reason: ErrorCode) -> None:
        assert self._failed(reason).reason is reason

    def test_a_code_that_is_not_about_a_file_is_rejected(self) -> None:
        with pytest.raises(ValidationError):
            self._failed(ErrorCode.RATE_LIMITED)


@pytest.mark.parametrize("spec", list(REGISTRY), ids=lambda spec: spec.event_type)
def test_payloads_are_frozen(spec: Any) -> None:
    assert spec.data_model.model_config.get("frozen") is True


def test_a_payload_cannot_be_changed_after_creation() -> None:
    ref = EssayTextRef(essay_id=uuid4(), text_id=TEXT_A)
    with pytest.raises(ValidationError):
        ref.text_id = TEXT_B  # type: ignore[misc]


def test_every_contract_field_is_described() -> None:
    _, schema = models_json_schema([(spec.data_model, "validation") for spec in REGISTRY])
    undescribed = [
        f"{model}.{field}"
        for model, definition in schema["$defs"].items()
        for field, prop in definition.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []


SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
ENUMS: list[type[StrEnum]] = [
    BatchStatus,
    status.BatchClientStatus,
    EssayStatus,
    PhaseName,
    PhaseStatus,
    ErrorCode,
    CorrectionCategory,
    ComparisonWinner,
]


@pytest.mark.parametrize("enum", ENUMS, ids=lambda enum: enum.__name__)
def test_enum_values_are_lowercase_snake_case(enum: type[StrEnum]) -> None:
    for member in enum:
        assert SNAKE_CASE.match(member.value), member
        assert member.value == member.name.lower()


def test_every_batch_status_has_a_client_status() -> None:
    assert set(CLIENT_STATUS_FOR) == set(BatchStatus)
    assert set(CLIENT_STATUS_FOR.values()) == set(status.BatchClientStatus)


def test_every_phase_has_its_essay_states() -> None:
    assert set(PHASE_ESSAY_STATUSES) == set(PhaseName)
    used = [
        s for states in PHASE_ESSAY_STATUSES.values() for s in (states.requested, *states.final)
    ]
    assert len(used) == len(set(used)), "a state belongs to one phase only"


def test_terminal_and_final_statuses() -> None:
    assert {s for s in BatchStatus if s.is_terminal} == {BatchStatus.FAILED, BatchStatus.CANCELLED}
    assert {s for s in PhaseStatus if not s.is_final} == {
        PhaseStatus.PENDING,
        PhaseStatus.DISPATCHED,
    }
