import numpy as np
from cj_assessment.domain.comparisons import Comparison, ComparisonArrays
from cj_assessment.domain.judge_diagnostics import judge_diagnostics
from scipy.special import expit


def judged_by(judge: str, theta: np.ndarray, rng: np.random.Generator, p_first) -> ComparisonArrays:
    first = rng.integers(0, len(theta), 3_000)
    second = (first + rng.integers(1, len(theta), 3_000)) % len(theta)
    won = rng.random(3_000) < p_first(theta[first] - theta[second])
    return ComparisonArrays(first, second, won, (judge,) * 3_000)


def merge(*parts: ComparisonArrays) -> ComparisonArrays:
    return ComparisonArrays(
        np.concatenate([p.first for p in parts]),
        np.concatenate([p.second for p in parts]),
        np.concatenate([p.first_won for p in parts]),
        tuple(j for p in parts for j in p.judges),
    )


def test_infit_and_first_position_rate_separate_good_noisy_and_biased_judges() -> None:
    rng = np.random.default_rng(3)
    theta = rng.normal(0.0, 1.5, 40)
    scores = theta - theta.mean()
    data = merge(
        judged_by("consistent", theta, rng, expit),
        judged_by("erratic", theta, rng, lambda d: np.full_like(d, 0.5)),
        judged_by("first-lover", theta, rng, lambda d: expit(d + 1.0)),
    )
    report = {d.judge: d for d in judge_diagnostics(scores, data)}
    assert sorted(report) == ["consistent", "erratic", "first-lover"]
    assert 0.9 < report["consistent"].infit_mean_square < 1.1
    assert report["erratic"].infit_mean_square > 1.5
    assert abs(report["consistent"].first_position_rate - 0.5) < 0.04
    assert report["first-lover"].first_position_rate > 0.6
    assert report["consistent"].n_comparisons == 3_000


def test_error_results_are_left_out_of_the_diagnostics() -> None:
    comparisons = [
        Comparison.judged(0, 1, a_won=True, judge="a"),
        Comparison.judged(1, 0, a_won=True, judge="a"),
        Comparison.error(0, 1, judge="a"),
        Comparison.error(0, 1, judge="b"),
    ]
    report = judge_diagnostics(np.array([0.0, 0.0]), comparisons)
    assert [(d.judge, d.n_comparisons, d.first_position_rate) for d in report] == [("a", 2, 1.0)]
    assert report[0].infit_mean_square == 1.0
