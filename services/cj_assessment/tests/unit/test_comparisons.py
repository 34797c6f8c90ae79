import numpy as np
import pytest
from cj_assessment.domain.comparisons import Comparison, ComparisonArrays, ScheduledPair


def test_a_judged_comparison_knows_winner_loser_and_position() -> None:
    c = Comparison.judged(3, 5, a_won=False, judge="gpt")
    assert (c.winner_index, c.loser_index, c.a_won, c.key) == (5, 3, False, (3, 5))


def test_an_error_result_has_no_winner_and_is_not_a_comparison() -> None:
    error = Comparison.error(1, 2)
    assert error.winner_index is None
    assert error.loser_index is None
    arrays = ComparisonArrays.from_comparisons([error, Comparison.judged(1, 2, a_won=True)])
    assert len(arrays) == 1
    assert arrays.winners.tolist() == [1]
    assert arrays.losers.tolist() == [2]


@pytest.mark.parametrize(
    ("a", "b", "winner", "is_error"),
    [(1, 1, 1, False), (1, 2, 3, False), (1, 2, None, False), (1, 2, 1, True)],
)
def test_inconsistent_comparisons_are_rejected(
    a: int, b: int, winner: int | None, is_error: bool
) -> None:
    with pytest.raises(ValueError, match=r"."):
        Comparison(a, b, winner, is_error=is_error)


def test_scheduled_pair_rejects_self_pair_and_has_unordered_key() -> None:
    with pytest.raises(ValueError, match="itself"):
        ScheduledPair(4, 4)
    assert ScheduledPair(7, 2).key == (2, 7)


def test_select_keeps_aligned_rows() -> None:
    arrays = ComparisonArrays(
        np.array([0, 1, 2]), np.array([1, 2, 0]), np.array([True, False, True]), ("a", "b", "c")
    )
    picked = arrays.select(np.array([False, True, True]))
    assert picked.first.tolist() == [1, 2]
    assert picked.judges == ("b", "c")
