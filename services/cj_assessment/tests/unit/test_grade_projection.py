import itertools

import numpy as np
import pytest
from cj_assessment.domain.grade_projection import (
    ENG5_NP_9_STEP,
    GRADE_SCALES,
    SWEDISH_F_TO_A,
    AnchorScore,
    CalibrationError,
    GradeScale,
    calibrate,
    grade_probabilities,
    isotonic_means,
    project_grades,
    true_score_posterior,
)
from hypothesis import given, settings
from hypothesis import strategies as st

finite = st.floats(min_value=-6.0, max_value=6.0, allow_nan=False)


def test_grade_scales_are_ordered_data() -> None:
    assert SWEDISH_F_TO_A.labels == ("F", "E", "D", "C", "B", "A")
    assert len(ENG5_NP_9_STEP.labels) == 9
    assert ENG5_NP_9_STEP.labels[0] == "F+"
    assert ENG5_NP_9_STEP.labels[-1] == "A"
    assert GRADE_SCALES["eng5_np_9_step"] is ENG5_NP_9_STEP
    with pytest.raises(ValueError, match="unique"):
        GradeScale("broken", ("A", "A"))


@given(st.lists(st.tuples(finite, st.integers(1, 5)), min_size=1, max_size=12))
def test_isotonic_means_are_ordered_and_keep_the_weighted_mean(
    pairs: list[tuple[float, int]],
) -> None:
    values = [v for v, _ in pairs]
    weights = [w for _, w in pairs]
    fitted = isotonic_means(values, weights)
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(fitted))
    assert np.average(fitted, weights=weights) == pytest.approx(
        np.average(values, weights=weights), abs=1e-9
    )
    assert isotonic_means(sorted(values), weights) == pytest.approx(sorted(values))


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.sampled_from(SWEDISH_F_TO_A.labels), finite), min_size=2, max_size=20
    ).filter(lambda xs: len({g for g, _ in xs}) >= 2)
)
def test_calibrated_grade_means_and_boundaries_are_monotone(
    anchors: list[tuple[str, float]],
) -> None:
    try:
        calibration = calibrate(SWEDISH_F_TO_A, [AnchorScore(g, s) for g, s in anchors])
    except CalibrationError:
        return  # the anchors put every grade at the same place: nothing to order
    means = calibration.grade_means
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(means))
    edges = calibration.boundaries
    assert len(edges) == len(SWEDISH_F_TO_A.labels) - 1
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(edges))


def test_out_of_order_anchors_are_pooled_and_boundaries_sit_at_midpoints() -> None:
    anchors = [
        AnchorScore("E", -2.0),
        AnchorScore("D", 0.5),
        AnchorScore("C", 0.1),
        AnchorScore("A", 3.0),
    ]
    calibration = calibrate(SWEDISH_F_TO_A, anchors, ladder_prior_anchors=0.0)
    means = dict(zip(SWEDISH_F_TO_A.labels, calibration.grade_means, strict=True))
    assert means["D"] == pytest.approx(0.3)
    assert means["C"] == pytest.approx(0.3)
    assert means["B"] == pytest.approx(1.65)  # interpolated between C and A
    step = (3.0 + 2.0) / 4  # average step per grade between E and A
    assert means["F"] == pytest.approx(-2.0 - step)  # extrapolated below the lowest anchor
    assert calibration.boundaries[0] == pytest.approx((means["F"] + means["E"]) / 2)
    assert calibration.anchored == (False, True, True, True, False, True)


def test_calibration_needs_two_distinct_grades() -> None:
    with pytest.raises(CalibrationError):
        calibrate(SWEDISH_F_TO_A, [AnchorScore("C", 0.0), AnchorScore("C", 1.0)])
    with pytest.raises(CalibrationError):
        calibrate(SWEDISH_F_TO_A, [AnchorScore("C", 1.0), AnchorScore("B", 0.0)])
    with pytest.raises(ValueError, match="not on scale"):
        calibrate(SWEDISH_F_TO_A, [AnchorScore("X", 1.0), AnchorScore("B", 0.0)])


@given(
    scores=st.lists(finite, min_size=1, max_size=10),
    se=st.floats(min_value=0.0, max_value=3.0),
)
def test_grade_probabilities_sum_to_one(scores: list[float], se: float) -> None:
    calibration = calibrate(
        ENG5_NP_9_STEP, [AnchorScore("E-", -1.0), AnchorScore("C-", 0.5), AnchorScore("A", 2.5)]
    )
    probs = grade_probabilities(calibration, np.array(scores), np.full(len(scores), se))
    assert probs.shape == (len(scores), 9)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert np.all(probs >= 0.0)


@settings(max_examples=60)
@given(
    gaps=st.lists(st.floats(min_value=0.3, max_value=3.0), min_size=5, max_size=5),
    start=finite,
    which=st.integers(0, 5),
)
def test_an_essay_equal_to_an_anchor_most_likely_gets_that_anchors_grade(
    gaps: list[float], start: float, which: int
) -> None:
    # Without shrinkage toward the ladder, however unevenly the anchors are spaced; with it
    # (the default), an anchor far off the ladder may lend its grade to a neighbour.
    scores = np.cumsum([start, *gaps])
    anchors = [AnchorScore(g, float(s)) for g, s in zip(SWEDISH_F_TO_A.labels, scores, strict=True)]
    calibration = calibrate(SWEDISH_F_TO_A, anchors, ladder_prior_anchors=0.0)
    se = min(gaps) / 4.0
    projection = project_grades(calibration, np.array([scores[which]]), np.array([se]))[0]
    assert projection.grade == SWEDISH_F_TO_A.labels[which]
    assert projection.probability == max(projection.probabilities.values())
    assert sum(projection.probabilities.values()) == pytest.approx(1.0)


def test_zero_standard_error_puts_all_mass_in_the_containing_grade() -> None:
    calibration = calibrate(SWEDISH_F_TO_A, [AnchorScore("F", 0.0), AnchorScore("A", 5.0)])
    projection = project_grades(calibration, np.array([2.6]), np.array([0.0]))[0]  # means 0,1,...,5
    assert projection.grade == "C"
    assert projection.probability == 1.0


def test_few_anchors_per_grade_lean_on_the_ladder_and_many_keep_their_own_mean() -> None:
    # Ladder through all anchors: 0, 1, 2, 3 for grades E..B; grade D's anchors sit high.
    few = [AnchorScore("E", 0.0), AnchorScore("D", 1.6), AnchorScore("C", 2.0)]
    few += [AnchorScore("B", 3.0)]
    many = few[:1] + [AnchorScore("D", 1.6)] * 40 + few[2:]
    d = SWEDISH_F_TO_A.index("D")
    own_few = calibrate(SWEDISH_F_TO_A, few, ladder_prior_anchors=0.0).grade_means[d]
    shrunk_few = calibrate(SWEDISH_F_TO_A, few).grade_means[d]
    shrunk_many = calibrate(SWEDISH_F_TO_A, many).grade_means[d]
    assert own_few == pytest.approx(1.6)
    assert shrunk_few < own_few - 0.1  # one anchor: pulled toward the ladder
    assert shrunk_many == pytest.approx(1.6, abs=0.05)  # forty anchors: barely moved
    with pytest.raises(ValueError, match="ladder_prior_anchors"):
        calibrate(SWEDISH_F_TO_A, few, ladder_prior_anchors=-1.0)


@settings(max_examples=40)
@given(
    gap=st.floats(min_value=0.3, max_value=3.0),
    jitter=st.lists(st.floats(min_value=-0.2, max_value=0.2), min_size=6, max_size=6),
    which=st.integers(0, 5),
)
def test_with_the_ladder_an_essay_equal_to_a_nearly_evenly_spaced_anchor_gets_its_grade(
    gap: float, jitter: list[float], which: int
) -> None:
    scores = gap * (np.arange(6.0) + np.array(jitter))
    anchors = [AnchorScore(g, float(s)) for g, s in zip(SWEDISH_F_TO_A.labels, scores, strict=True)]
    calibration = calibrate(SWEDISH_F_TO_A, anchors)
    projection = project_grades(calibration, np.array([scores[which]]), np.array([gap / 8.0]))[0]
    assert projection.grade == SWEDISH_F_TO_A.labels[which]


@settings(max_examples=60)
@given(
    st.lists(st.tuples(finite, st.floats(min_value=0.0, max_value=3.0)), min_size=3, max_size=30)
)
def test_true_scores_are_shrunk_toward_the_batch_mean_never_past_it(
    items: list[tuple[float, float]],
) -> None:
    scores = np.array([s for s, _ in items])
    se = np.array([e for _, e in items])
    means, sds = true_score_posterior(scores, se)
    centre = scores.mean()
    assert np.all(np.abs(means - centre) <= np.abs(scores - centre) + 1e-9)
    assert np.all(np.sign(means - centre) * np.sign(scores - centre) >= 0)
    assert np.all(sds <= se + 1e-12)


def test_true_scores_are_left_alone_without_a_spread_to_estimate() -> None:
    two = np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    assert all(np.array_equal(a, b) for a, b in zip(true_score_posterior(*two), two, strict=True))
    noise_only = np.array([-0.5, 0.0, 0.5]), np.array([2.0, 2.0, 2.0])  # spread < error
    posterior = true_score_posterior(*noise_only)
    assert all(np.array_equal(a, b) for a, b in zip(posterior, noise_only, strict=True))


def test_the_true_score_posterior_is_closer_to_the_truth_than_the_estimates() -> None:
    rng = np.random.default_rng(7)
    truth = rng.normal(0.0, 1.0, 2_000)
    se = rng.uniform(0.3, 1.0, truth.size)
    estimates = truth + rng.normal(0.0, se)
    means, sds = true_score_posterior(estimates, se)
    assert np.mean((means - truth) ** 2) < 0.8 * np.mean((estimates - truth) ** 2)
    # The stated uncertainty is honest: about 95% of true scores lie within 1.96 sd.
    covered = np.mean(np.abs(truth - means) <= 1.96 * sds)
    assert covered == pytest.approx(0.95, abs=0.02)
