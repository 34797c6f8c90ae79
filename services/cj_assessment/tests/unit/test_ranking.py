"""The final ranking rule and the comparison budget (pure service code)."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest
from cj_assessment.assessment import comparison_budget
from cj_assessment.domain.comparisons import Comparison
from cj_assessment.domain.grade_projection import SWEDISH_F_TO_A
from cj_assessment.grade_scales import GradeScaleName, grade_scale, is_grade_on
from cj_assessment.ranking import RankingFailedError, RankItem, rank_batch
from hypothesis import given, settings
from hypothesis import strategies as st

from common_core.errors import ErrorCode


def essays(n: int) -> list[RankItem]:
    return [RankItem(uuid.uuid4()) for _ in range(n)]


def round_robin(n: int, better: list[float], rounds: int = 1) -> list[Comparison]:
    """Every pair judged `rounds` times; the item with the higher value always wins."""
    return [
        Comparison.judged(i, j, a_won=better[i] > better[j])
        for _ in range(rounds)
        for i in range(n)
        for j in range(i + 1, n)
    ]


def test_a_single_item_is_rank_one_without_comparisons() -> None:
    ranking = rank_batch(essays(1), [], None)
    [only] = ranking.items
    assert (only.rank, only.bt_score, only.bt_standard_error, only.comparison_count) == (
        1,
        0.0,
        0.0,
        0,
    )


def test_no_valid_comparison_fails_with_a_code() -> None:
    with pytest.raises(RankingFailedError) as failure:
        rank_batch(essays(3), [Comparison.error(0, 1), Comparison.error(1, 2)], None)
    assert failure.value.code is ErrorCode.INSUFFICIENT_COMPARISONS


def test_a_disconnected_graph_fails_with_a_code() -> None:
    comparisons = [Comparison.judged(0, 1, a_won=True), Comparison.judged(2, 3, a_won=False)]
    with pytest.raises(RankingFailedError) as failure:
        rank_batch(essays(4), comparisons, None)
    assert failure.value.code is ErrorCode.INSUFFICIENT_COMPARISONS
    assert "2 groups" in failure.value.message


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**32 - 1))
def test_ranks_follow_scores_and_counts_cover_every_judgement(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    better = rng.normal(size=n).tolist()
    comparisons = [*round_robin(n, better), Comparison.error(0, 1)]
    ranking = rank_batch(essays(n), comparisons, None)
    assert [item.rank for item in ranking.items] == list(range(1, n + 1))
    scores = [item.bt_score for item in ranking.items]
    assert scores == sorted(scores, reverse=True)
    assert sum(item.comparison_count for item in ranking.items) == 2 * ranking.valid_comparisons
    assert ranking.valid_comparisons == n * (n - 1) // 2
    assert all(item.bt_standard_error > 0 for item in ranking.items)
    assert all(item.grade is None for item in ranking.items)


def test_anchors_of_two_grades_project_a_grade_for_every_item() -> None:
    items = [*essays(4), RankItem(uuid.uuid4(), True, "F"), RankItem(uuid.uuid4(), True, "A")]
    better = [1.0, 2.0, 3.0, 4.0, 0.0, 5.0]
    ranking = rank_batch(items, round_robin(6, better, rounds=2), SWEDISH_F_TO_A)
    grades = {item.item_index: item.grade for item in ranking.items}
    assert all(grade is not None for grade in grades.values())
    assert grades[5] is not None
    assert grades[5].grade == "A"
    assert grades[4] is not None
    assert grades[4].grade == "F"
    assert ranking.diagnostics["graded"] is True


def test_anchors_of_one_grade_project_nothing() -> None:
    items = [*essays(3), RankItem(uuid.uuid4(), True, "C")]
    ranking = rank_batch(items, round_robin(4, [0.0, 1.0, 2.0, 3.0]), SWEDISH_F_TO_A)
    assert all(item.grade is None for item in ranking.items)


@given(st.integers(0, 2_000), st.floats(0.1, 30.0), st.integers(1, 50_000))
def test_the_budget_is_judgements_per_item_capped(n: int, per_item: float, cap: int) -> None:
    budget = comparison_budget(n, per_item, cap)
    assert 0 <= budget <= cap
    assert budget == min(cap, math.ceil(per_item * n))


def test_grade_scales_by_api_name() -> None:
    assert grade_scale(GradeScaleName.SWEDISH_F_A).labels == ("F", "E", "D", "C", "B", "A")
    assert len(grade_scale(GradeScaleName.ENG5_NP).labels) == 9
    assert is_grade_on(GradeScaleName.ENG5_NP, "C+")
    assert not is_grade_on(GradeScaleName.SWEDISH_F_A, "C+")
