import numpy as np
import pytest
from cj_assessment.domain.comparisons import Comparison, ComparisonArrays
from cj_assessment.domain.scaling import (
    DisconnectedComparisonGraphError,
    ScalingError,
    fit_bradley_terry,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr


def test_recovers_the_order_of_known_abilities(simulate) -> None:
    rng = np.random.default_rng(1)
    theta = rng.normal(0.0, 1.5, 30)
    fit = fit_bradley_terry(30, simulate(theta, 1_500, rng))
    assert spearmanr(fit.scores, theta)[0] > 0.95


def test_scores_are_mean_centred_and_covariance_is_consistent(simulate) -> None:
    rng = np.random.default_rng(2)
    fit = fit_bradley_terry(25, simulate(rng.normal(0.0, 1.0, 25), 300, rng))
    assert abs(fit.scores.mean()) < 1e-9
    assert np.allclose(fit.covariance, fit.covariance.T)
    assert np.allclose(fit.covariance.sum(axis=1), 0.0, atol=1e-9)  # centred scores
    assert np.allclose(fit.standard_errors, np.sqrt(np.diag(fit.covariance)))


def test_standard_errors_shrink_with_more_judgements(simulate) -> None:
    rng = np.random.default_rng(3)
    theta = rng.normal(0.0, 1.5, 40)
    few = fit_bradley_terry(40, simulate(theta, 400, rng))
    many = fit_bradley_terry(40, simulate(theta, 3_200, rng))
    assert many.standard_errors.mean() < 0.6 * few.standard_errors.mean()


def test_standard_errors_match_the_spread_of_repeated_estimates(simulate) -> None:
    rng = np.random.default_rng(4)
    theta = rng.normal(0.0, 1.0, 15)
    fits = [fit_bradley_terry(15, simulate(theta, 600, rng)) for _ in range(60)]
    empirical = np.std([f.scores for f in fits], axis=0).mean()
    reported = np.mean([f.standard_errors for f in fits])
    assert 0.75 < empirical / reported < 1.25


def test_position_bias_is_recovered(simulate) -> None:
    rng = np.random.default_rng(5)
    theta = rng.normal(0.0, 1.0, 30)
    fit = fit_bradley_terry(30, simulate(theta, 6_000, rng, position_bias=0.5))
    assert abs(fit.position_bias - 0.5) < 3 * fit.position_bias_se + 0.05
    assert abs(fit.position_bias - 0.5) < 0.15
    unbiased = fit_bradley_terry(30, simulate(theta, 6_000, rng))
    assert abs(unbiased.position_bias) < 0.15


def test_error_results_are_excluded() -> None:
    valid = [Comparison.judged(i, (i + 1) % 6, a_won=i % 2 == 0) for i in range(6)]
    valid += [Comparison.judged(i, (i + 2) % 6, a_won=i % 3 == 0) for i in range(6)]
    errors = [Comparison.error(0, 3), Comparison.error(2, 5)]
    with_errors = fit_bradley_terry(6, valid + errors)
    without = fit_bradley_terry(6, valid)
    assert with_errors.n_comparisons == len(valid)
    assert np.array_equal(with_errors.scores, without.scores)


def test_disconnected_graph_is_refused_with_its_components() -> None:
    comparisons = [
        Comparison.judged(0, 1, a_won=True),
        Comparison.judged(1, 2, a_won=True),
        Comparison.judged(3, 4, a_won=False),
    ]
    with pytest.raises(DisconnectedComparisonGraphError) as caught:
        fit_bradley_terry(6, comparisons)
    assert sorted(map(sorted, caught.value.components)) == [[0, 1, 2], [3, 4], [5]]
    provisional = fit_bradley_terry(6, comparisons, require_connected=False)
    assert np.all(np.isfinite(provisional.scores))
    assert provisional.scores[0] > provisional.scores[2]


def test_items_outside_the_batch_are_rejected() -> None:
    with pytest.raises(ScalingError, match="outside"):
        fit_bradley_terry(3, [Comparison.judged(0, 3, a_won=True)])


def test_an_item_that_won_everything_keeps_a_finite_score() -> None:
    comparisons = [Comparison.judged(0, j, a_won=True) for j in range(1, 5)]
    comparisons += [Comparison.judged(j, j + 1, a_won=j % 2 == 0) for j in range(1, 4)]
    fit = fit_bradley_terry(5, comparisons)
    assert np.all(np.isfinite(fit.scores))
    assert np.all(np.isfinite(fit.standard_errors))
    assert int(np.argmax(fit.scores)) == 0


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=12),
    extra=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11), st.booleans()), max_size=40),
)
def test_any_connected_data_gives_finite_centred_scores(
    n: int, extra: list[tuple[int, int, bool]]
) -> None:
    chain = [(i, i + 1, bool(i % 2)) for i in range(n - 1)]  # keeps the graph connected
    rows = chain + [(a % n, b % n, w) for a, b, w in extra if a % n != b % n]
    data = ComparisonArrays(
        np.array([a for a, _, _ in rows]),
        np.array([b for _, b, _ in rows]),
        np.array([w for _, _, w in rows]),
        ("sim",) * len(rows),
    )
    fit = fit_bradley_terry(n, data)
    assert np.all(np.isfinite(fit.scores))
    assert abs(fit.scores.mean()) < 1e-9
    assert np.all(fit.standard_errors > 0)
