from collections.abc import Callable

import numpy as np
import pytest
from cj_assessment.domain.comparisons import Comparison
from cj_assessment.domain.stopping import (
    TERMINAL_STATUSES,
    CJBatchState,
    CJBatchStatus,
    InvalidBatchTransitionError,
    StoppingRule,
    StopReason,
    TransitionOutcome,
    comparison_target,
    decide_stop,
    max_score_change,
    valid_comparison_count,
)
from hypothesis import given
from hypothesis import strategies as st


@given(n=st.integers(min_value=0, max_value=300), budget=st.integers(min_value=0, max_value=10**5))
def test_the_denominator_is_the_smaller_of_budget_and_all_pairs(n: int, budget: int) -> None:
    assert comparison_target(n, budget) == min(budget, n * (n - 1) // 2)


@pytest.mark.parametrize(("n", "budget", "expected"), [(5, 100, 10), (30, 100, 100), (2, 0, 0)])
def test_comparison_target_examples(n: int, budget: int, expected: int) -> None:
    assert comparison_target(n, budget) == expected


def all_pairs(n: int) -> list[Comparison]:
    return [Comparison.judged(i, j, a_won=True) for i in range(n) for j in range(i + 1, n)]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_a_small_batch_finishes_as_soon_as_all_its_pairs_are_judged(n: int) -> None:
    decision = decide_stop(n, all_pairs(n), [], StoppingRule(budget=1_000))
    assert decision.stop
    assert decision.reason is StopReason.ALL_PAIRS_JUDGED
    assert decision.progress == 1.0


def test_a_small_batch_waits_while_a_pair_only_has_an_error() -> None:
    comparisons = [*all_pairs(4)[:-1], Comparison.error(2, 3)]
    decision = decide_stop(4, comparisons, [], StoppingRule(budget=1_000))
    assert not decision.stop
    assert decision.valid_comparisons == 5
    assert decision.target == 6


def test_completion_counts_only_valid_comparisons() -> None:
    comparisons = [Comparison.judged(0, 1, a_won=True)] * 6 + [Comparison.error(0, 1)] * 10
    assert valid_comparison_count(comparisons) == 6
    rule = StoppingRule(budget=10, min_judgements_per_item=100)
    assert not decide_stop(10, comparisons, [], rule).stop
    done = decide_stop(10, comparisons + [Comparison.judged(2, 3, a_won=False)] * 4, [], rule)
    assert done.stop
    assert done.reason is StopReason.COMPARISON_TARGET_REACHED


def test_a_five_item_batch_stops_at_ten_comparisons_not_at_the_budget() -> None:
    decision = decide_stop(5, all_pairs(5), [], StoppingRule(budget=500))
    assert decision.stop
    assert decision.target == 10


def stable_history(change: float, fits: int = 4) -> list[np.ndarray]:
    base = np.linspace(-1.0, 1.0, 10)
    return [base + change * k for k in range(fits)]


def test_a_stable_scale_stops_the_batch() -> None:
    rule = StoppingRule(budget=1_000, stability_window=3, stability_threshold=0.05)
    comparisons = [Comparison.judged(0, 1, a_won=True)] * 40
    decision = decide_stop(10, comparisons, stable_history(0.01), rule)
    assert decision.stop
    assert decision.reason is StopReason.SCALE_STABLE


def test_a_moving_scale_or_too_little_data_keeps_collecting() -> None:
    rule = StoppingRule(budget=1_000, stability_window=3, stability_threshold=0.05)
    enough = [Comparison.judged(0, 1, a_won=True)] * 40
    assert not decide_stop(10, enough, stable_history(0.2), rule).stop
    assert not decide_stop(10, enough, stable_history(0.01, fits=3), rule).stop
    assert not decide_stop(10, enough[:20], stable_history(0.01), rule).stop


def test_max_score_change_looks_only_at_the_window() -> None:
    history = [np.zeros(3), np.full(3, 5.0), np.full(3, 5.01), np.full(3, 5.03)]
    assert max_score_change(history, 2) == pytest.approx(0.02)
    assert max_score_change(history, 3) == pytest.approx(5.0)
    assert max_score_change(history, 4) is None


def test_the_lifecycle_runs_collecting_scoring_completed() -> None:
    state = CJBatchState()
    state, outcome = state.start_scoring()
    assert state.status is CJBatchStatus.SCORING
    assert outcome is TransitionOutcome.APPLIED
    state, _ = state.resume_collecting()
    state, _ = state.start_scoring()
    state, outcome = state.finalise(StopReason.SCALE_STABLE)
    assert state.status is CJBatchStatus.COMPLETED
    assert outcome is TransitionOutcome.APPLIED
    assert state.stop_reason is StopReason.SCALE_STABLE


def terminal_state(status: CJBatchStatus) -> CJBatchState:
    if status is CJBatchStatus.COMPLETED:
        return CJBatchState().finalise(StopReason.COMPARISON_TARGET_REACHED)[0]
    return CJBatchState().fail("no valid comparisons")[0]


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES))
def test_every_terminal_state_ignores_every_later_trigger(status: CJBatchStatus) -> None:
    state = terminal_state(status)
    assert state.status is status
    assert state.is_terminal
    triggers: list[Callable[[CJBatchState], tuple[CJBatchState, TransitionOutcome]]] = [
        lambda s: s.finalise(StopReason.SCALE_STABLE),
        lambda s: s.fail("monitor timeout"),
        lambda s: s.start_scoring(),
        lambda s: s.resume_collecting(),
    ]
    for trigger in triggers:
        after, outcome = trigger(state)
        assert outcome is TransitionOutcome.ALREADY_FINAL
        assert after == state


def test_the_terminal_statuses_are_exactly_completed_and_failed() -> None:
    assert {s for s in CJBatchStatus if CJBatchState(status=s).is_terminal} == {
        CJBatchStatus.COMPLETED,
        CJBatchStatus.FAILED,
    }


def test_failure_needs_a_reason_and_invalid_moves_are_refused() -> None:
    with pytest.raises(ValueError, match="reason"):
        CJBatchState().fail("")
    with pytest.raises(InvalidBatchTransitionError):
        CJBatchState().resume_collecting()
    with pytest.raises(InvalidBatchTransitionError):
        CJBatchState(status=CJBatchStatus.SCORING).start_scoring()
    failed, outcome = CJBatchState(status=CJBatchStatus.SCORING).fail("llm provider down")
    assert failed.failure_reason == "llm provider down"
    assert outcome is TransitionOutcome.APPLIED
