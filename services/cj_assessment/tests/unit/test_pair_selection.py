from collections import Counter

import numpy as np
import pytest
from cj_assessment.domain.comparisons import ComparisonArrays
from cj_assessment.domain.pair_selection import (
    PairSelectionConfig,
    expected_pair_information,
    information_weights,
    score_density,
    select_wave,
)
from cj_assessment.domain.scaling import fit_bradley_terry, is_connected
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare


def keys(pairs: list[tuple[int, int]]) -> Counter[tuple[int, int]]:
    return Counter((min(a, b), max(a, b)) for a, b in pairs)


def run_waves(n: int, waves: int, seed: int, *, adaptive: bool) -> list[list[tuple[int, int]]]:
    """Schedule waves as the service does, judging by a latent ability when adaptive."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 1.5, n)
    history: list[tuple[int, int]] = []
    won: list[bool] = []
    fit = None
    result = []
    for _ in range(waves):
        wave = [(p.a_index, p.b_index) for p in select_wave(n, history, rng, estimate=fit)]
        result.append(wave)
        history += wave
        won += [bool(rng.random() < 1 / (1 + np.exp(theta[b] - theta[a]))) for a, b in wave]
        if adaptive:
            data = ComparisonArrays(
                np.array([a for a, _ in history]),
                np.array([b for _, b in history]),
                np.array(won),
                ("sim",) * len(history),
            )
            fit = fit_bradley_terry(n, data, require_connected=False)
    return result


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=14),
    waves=st.integers(min_value=1, max_value=12),
    seed=st.integers(min_value=0, max_value=10_000),
    adaptive=st.booleans(),
)
def test_waves_use_each_item_once_and_repeat_no_pair_before_all_pairs_are_used(
    n: int, waves: int, seed: int, adaptive: bool
) -> None:
    all_pairs = n * (n - 1) // 2
    seen: Counter[tuple[int, int]] = Counter()
    for wave in run_waves(n, waves, seed, adaptive=adaptive):
        items = [i for pair in wave for i in pair]
        assert len(items) == len(set(items)), "an item appears twice in one wave"
        assert all(0 <= i < n for i in items)
        for key in keys(wave):
            # A pair may be scheduled again only once every pair has been scheduled as often.
            exhausted_rounds = min(seen[(i, j)] for i in range(n) for j in range(i + 1, n))
            assert seen[key] == exhausted_rounds, f"{key} repeated before all pairs were judged"
        seen.update(keys(wave))
    assert len(seen) <= all_pairs


def test_after_exhaustion_the_least_judged_pairs_come_first() -> None:
    n = 6
    history = [(i, j) for i in range(n) for j in range(i + 1, n)]  # every pair once
    history += [(0, 1), (2, 3), (4, 5)]  # three pairs twice
    wave = select_wave(n, history, np.random.default_rng(1))
    assert wave
    assert not {p.key for p in wave} & {(0, 1), (2, 3), (4, 5)}


def test_a_small_batch_exhausts_its_pairs_in_as_few_waves_as_matchings_allow() -> None:
    waves = run_waves(4, 3, seed=3, adaptive=False)
    assert sorted(keys([p for w in waves for p in w])) == [
        (0, 1),
        (0, 2),
        (0, 3),
        (1, 2),
        (1, 3),
        (2, 3),
    ]


def test_positions_are_a_fair_coin_by_chi_square() -> None:
    rng = np.random.default_rng(20240601)
    n, first_is_lower, per_item_first = 20, 0, np.zeros(20)
    total = 0
    for _ in range(300):
        for pair in select_wave(n, [], rng):
            first_is_lower += pair.a_index < pair.b_index
            per_item_first[pair.a_index] += 1
            total += 1
    overall = chisquare([first_is_lower, total - first_is_lower])
    assert overall.pvalue > 0.05
    # Each item is in every wave, so it should be first in half of its 300 appearances.
    per_item = chisquare(np.concatenate([per_item_first, 300 - per_item_first]))
    assert per_item.pvalue > 0.05


def test_warm_up_joins_components_first() -> None:
    # Two components, {0..4} and {5..9}, each fully compared within itself.
    history = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    history += [(i, j) for i in range(5, 10) for j in range(i + 1, 10)]
    wave = select_wave(10, history, np.random.default_rng(0))
    assert len(wave) == 5
    assert all((p.a_index < 5) != (p.b_index < 5) for p in wave)


class Estimate:
    def __init__(self, scores: list[float], variances: list[float]) -> None:
        self.scores = np.array(scores)
        self.covariance = np.diag(variances)


def test_information_prefers_close_uncertain_pairs_over_distant_or_settled_ones() -> None:
    estimate = Estimate([0.0, 0.1, 3.0, 0.05, 0.0], [1.0, 1.0, 1.0, 0.01, 0.01])
    close_uncertain, distant, settled = information_weights(
        estimate, np.array([0, 0, 3]), np.array([1, 2, 4])
    )
    assert close_uncertain > distant
    assert close_uncertain > settled


def test_informative_wave_pairs_neighbours_on_the_scale() -> None:
    scores = np.repeat(np.arange(5.0) * 4.0, 2)  # five well separated pairs of twins
    estimate = Estimate(scores.tolist(), [0.5] * 10)
    history = [(0, 9)] * 5  # past the warm-up
    wave = select_wave(10, history, np.random.default_rng(0), estimate=estimate)
    assert sorted(p.key for p in wave) == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]


def test_max_pairs_caps_the_wave() -> None:
    assert len(select_wave(30, [], np.random.default_rng(0), max_pairs=4)) == 4
    assert select_wave(30, [], np.random.default_rng(0), max_pairs=0) == []
    assert select_wave(1, [], np.random.default_rng(0)) == []


def test_large_batch_gets_a_nearly_full_wave_from_its_candidates() -> None:
    rng = np.random.default_rng(5)
    n = 1_000
    history = [(p.a_index, p.b_index) for p in select_wave(n, [], rng)]
    history += [(p.a_index, p.b_index) for p in select_wave(n, history, rng)]
    theta = rng.normal(0.0, 1.5, n)
    first = np.array([a for a, _ in history])
    second = np.array([b for _, b in history])
    data = ComparisonArrays(
        first,
        second,
        rng.random(len(first)) < 1 / (1 + np.exp(theta[second] - theta[first])),
        ("sim",) * len(first),
    )
    fit = fit_bradley_terry(n, data, require_connected=False)
    full = PairSelectionConfig(min_weight_share=0.0)
    wave = select_wave(n, history, rng, estimate=fit, config=full)
    items = [i for p in wave for i in (p.a_index, p.b_index)]
    assert len(wave) >= 495
    assert len(items) == len(set(items))
    assert not {p.key for p in wave} & set(keys(history))


def test_random_warm_up_connects_the_graph_within_a_few_waves() -> None:
    rng = np.random.default_rng(11)
    n = 60
    history: list[tuple[int, int]] = []
    for _ in range(4):
        history += [(p.a_index, p.b_index) for p in select_wave(n, history, rng)]
    data = ComparisonArrays(
        np.array([a for a, _ in history]),
        np.array([b for _, b in history]),
        np.ones(len(history), dtype=bool),
        ("sim",) * len(history),
    )
    assert is_connected(n, data)


def test_a_wave_leaves_out_items_whose_every_pair_is_worth_little() -> None:
    # Items 0-3 are close and uncertain; 4-7 are settled and far from everything.
    scores = [0.0, 0.1, 0.2, 0.3, 8.0, 16.0, 24.0, 32.0]
    estimate = Estimate(scores, [1.0] * 4 + [0.001] * 4)
    history = [(0, 7)] * 4  # past the warm-up
    partial = PairSelectionConfig(min_weight_share=0.5, density_power=2.0)
    wave = select_wave(8, history, np.random.default_rng(0), estimate=estimate, config=partial)
    assert {i for p in wave for i in (p.a_index, p.b_index)} == {0, 1, 2, 3}
    filled = select_wave(8, history, np.random.default_rng(0), estimate=estimate)
    assert len(filled) == 4  # the default fills every wave


@settings(max_examples=40, deadline=None)
@given(
    mean=st.floats(min_value=-6.0, max_value=6.0),
    variance=st.floats(min_value=0.0, max_value=9.0),
    lapse=st.floats(min_value=0.0, max_value=0.5),
)
def test_expected_information_matches_a_fine_grid_and_lapses_only_lower_it(
    mean: float, variance: float, lapse: float
) -> None:
    z = np.linspace(-10.0, 10.0, 40_001)
    density = np.exp(-0.5 * z * z)
    d = mean + np.sqrt(variance) * z
    slope = 1.0 / (2.0 + np.exp(d) + np.exp(-d))
    p = lapse / 2.0 + (1.0 - lapse) / (1.0 + np.exp(-d))
    pointwise = (1.0 - lapse) ** 2 * slope**2 / (p * (1.0 - p))
    reference = float(np.sum(pointwise * density) / np.sum(density))
    (quadrature,) = expected_pair_information(np.array([mean]), np.array([variance]), lapse)
    assert quadrature == pytest.approx(reference, rel=0.03)
    (without,) = expected_pair_information(np.array([mean]), np.array([variance]))
    assert quadrature <= without + 1e-12


def test_score_density_is_highest_in_the_crowd() -> None:
    scores = np.array([-5.0, -0.2, -0.1, 0.0, 0.1, 0.2, 5.0])
    density = score_density(scores)
    assert density[3] == density.max()
    assert density[0] < density[3]
    assert density[-1] < density[3]
    assert np.all(score_density(np.zeros(4)) == 1.0)


def test_selection_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="min_weight_share"):
        PairSelectionConfig(min_weight_share=1.5)
    with pytest.raises(ValueError, match="lapse_rate"):
        PairSelectionConfig(lapse_rate=1.0)
    with pytest.raises(ValueError, match="density_power"):
        PairSelectionConfig(density_power=-1.0)


def test_rank_weighting_prefers_pairs_in_the_crowd() -> None:
    # Two equally uncertain close pairs: one amid many items (0, 1), one alone in the tail.
    crowd = np.linspace(-0.5, 0.5, 12)
    scores = np.concatenate([crowd, [6.0, 6.1]])
    estimate = Estimate(scores.tolist(), [0.3] * len(scores))
    first, second = np.array([5, 12]), np.array([6, 13])
    plain = information_weights(estimate, first, second)
    assert plain[0] == pytest.approx(plain[1], rel=0.05)
    density = score_density(estimate.scores) ** 2
    weighted = (estimate.covariance * density[None, :]) @ estimate.covariance
    in_crowd, in_tail = information_weights(estimate, first, second, weighted)
    assert in_crowd > 2.0 * in_tail
