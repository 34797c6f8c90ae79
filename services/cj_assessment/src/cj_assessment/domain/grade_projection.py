"""Grades from the scale, calibrated by anchor essays with known grades.

Grade scales are data: an ordered tuple of labels, lowest first. Calibration
takes the anchors' scores on the current Bradley-Terry scale:

1. the mean anchor score per grade, kept in grade order by weighted isotonic
   regression (pool-adjacent-violators; weights = anchors per grade), so a
   higher grade never sits below a lower one;
2. grades without anchors get a mean by linear interpolation between the
   nearest anchored grades, or by extrapolation with the average step per
   grade beyond the lowest and highest anchored grades;
3. each grade's mean is shrunk toward an evenly spaced ladder (a straight
   line of score on grade index, fitted to every anchor) with weight
   ``count / (count + ladder_prior_anchors)``: two anchors per grade pin a
   mean down poorly (they sit anywhere in the band and carry their own
   score errors), while the ladder pools all anchors into two numbers. A
   grade with many anchors keeps its own mean, and one with none takes the
   ladder's. On the efficiency benchmark (two anchors per grade) this lifts
   exact agreement by about two points;
4. the boundary between adjacent grades is the midpoint of their means.

The boundaries are placed among true scores: an anchor's estimate is its
true score plus an error of mean zero, so a grade's mean anchor estimate is
an unbiased estimate of that grade's mean true score. An essay's grade is
therefore read from the distribution of its *true* score, not of its
estimate. Across a batch the estimates spread wider than the true scores
(each adds its error), so an extreme estimate is partly luck: the true score
is shrunk toward the batch mean by the share of spread that is real
(:func:`true_score_posterior`, a normal-normal empirical-Bayes posterior).
The grade distribution integrates that posterior over the grade intervals
and the projected grade is the most probable one. On the efficiency
benchmark's development seeds, reading the estimate instead costs about two
points of exact agreement at ten judgements per essay (67.6% against 70.0%)
and overstates the grade probabilities (mean 0.710 against 0.676 hits, where
the posterior gives 0.717 against 0.700).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from cj_assessment.domain.comparisons import FloatArray


@dataclass(frozen=True)
class GradeScale:
    """An ordered grade scale, lowest grade first."""

    name: str
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.labels) < 2:
            raise ValueError("a grade scale needs at least two grades")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"grade labels must be unique: {self.labels}")

    def index(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            raise ValueError(f"grade {label!r} is not on scale {self.name!r}") from None


SWEDISH_F_TO_A = GradeScale("swedish_f_to_a", ("F", "E", "D", "C", "B", "A"))
# Swedish national test in English 5 (ENG5 NP): the nine steps its anchor essays are
# graded on, from just below a pass (F+) to A.
ENG5_NP_9_STEP = GradeScale("eng5_np_9_step", ("F+", "E-", "E+", "D-", "D+", "C-", "C+", "B", "A"))
GRADE_SCALES: dict[str, GradeScale] = {s.name: s for s in (SWEDISH_F_TO_A, ENG5_NP_9_STEP)}


class CalibrationError(ValueError):
    """The anchors cannot place grade boundaries on the scale."""


@dataclass(frozen=True)
class AnchorScore:
    """An anchor essay's known grade and its score on the current scale."""

    grade: str
    score: float


@dataclass(frozen=True)
class GradeCalibration:
    """Ordered grade means (one per label) and the boundaries between them."""

    scale: GradeScale
    grade_means: tuple[float, ...]
    boundaries: tuple[float, ...]
    anchored: tuple[bool, ...]


@dataclass(frozen=True)
class GradeProjection:
    """The most probable grade, its probability, and the full distribution by label."""

    grade: str
    probability: float
    probabilities: dict[str, float]


def isotonic_means(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([float(value), float(weight), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean2, w2, len2 = blocks.pop()
            mean1, w1, len1 = blocks.pop()
            total = w1 + w2
            blocks.append([(mean1 * w1 + mean2 * w2) / total, total, len1 + len2])
    fitted: list[float] = []
    for mean, _, length in blocks:
        fitted.extend([mean] * int(length))
    return fitted


DEFAULT_LADDER_PRIOR_ANCHORS = 2.0


def calibrate(
    scale: GradeScale,
    anchors: Sequence[AnchorScore],
    *,
    ladder_prior_anchors: float = DEFAULT_LADDER_PRIOR_ANCHORS,
) -> GradeCalibration:
    """Grade means and boundaries on the scale; needs anchors in two distinct grades.

    ``ladder_prior_anchors`` is how many anchors' worth of weight the evenly
    spaced ladder gets against each grade's own mean (0 = no shrinkage).
    """
    if ladder_prior_anchors < 0:
        raise ValueError("ladder_prior_anchors cannot be negative")
    by_grade: dict[int, list[float]] = {}
    for anchor in anchors:
        by_grade.setdefault(scale.index(anchor.grade), []).append(anchor.score)
    anchored_idx = sorted(by_grade)
    if len(anchored_idx) < 2:
        raise CalibrationError("anchors must cover at least two different grades")
    raw = [float(np.mean(by_grade[k])) for k in anchored_idx]
    fitted = isotonic_means(raw, [len(by_grade[k]) for k in anchored_idx])
    step = (fitted[-1] - fitted[0]) / (anchored_idx[-1] - anchored_idx[0])
    if step <= 0:
        raise CalibrationError("anchor scores do not separate the grades on the scale")
    means = [_grade_mean(k, anchored_idx, fitted, step) for k in range(len(scale.labels))]
    if ladder_prior_anchors > 0:
        means = _shrink_to_ladder(scale, anchors, means, ladder_prior_anchors)
    boundaries = tuple((means[k] + means[k + 1]) / 2.0 for k in range(len(means) - 1))
    return GradeCalibration(
        scale=scale,
        grade_means=tuple(means),
        boundaries=boundaries,
        anchored=tuple(k in by_grade for k in range(len(scale.labels))),
    )


def _shrink_to_ladder(
    scale: GradeScale, anchors: Sequence[AnchorScore], means: list[float], prior: float
) -> list[float]:
    grades = np.array([scale.index(a.grade) for a in anchors], dtype=np.float64)
    scores = np.array([a.score for a in anchors], dtype=np.float64)
    slope, intercept = np.polyfit(grades, scores, 1)
    if slope <= 0:
        return means  # the anchors disagree with the grade order: keep the pooled means
    index = np.arange(len(scale.labels), dtype=np.float64)
    counts = np.bincount(grades.astype(np.int64), minlength=len(scale.labels))
    own = counts / (counts + prior)
    shrunk = own * np.asarray(means) + (1.0 - own) * (intercept + slope * index)
    return [float(m) for m in np.maximum.accumulate(shrunk)]


def _grade_mean(k: int, anchored: list[int], fitted: list[float], step: float) -> float:
    """Interpolate between anchored grades; extrapolate beyond them by the mean step."""
    if k < anchored[0]:
        return fitted[0] - (anchored[0] - k) * step
    if k > anchored[-1]:
        return fitted[-1] + (k - anchored[-1]) * step
    return float(np.interp(k, anchored, fitted))


def grade_probabilities(
    calibration: GradeCalibration, scores: FloatArray, standard_errors: FloatArray
) -> FloatArray:
    """Matrix (essays x grades) of P(true score falls in each grade interval); rows sum to 1."""
    scores = np.asarray(scores, dtype=np.float64)
    se = np.asarray(standard_errors, dtype=np.float64)
    edges = np.asarray(calibration.boundaries)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = (edges[None, :] - scores[:, None]) / se[:, None]
    # A zero standard error puts all mass in the interval containing the score.
    z = np.where(se[:, None] > 0, z, np.where(edges[None, :] >= scores[:, None], np.inf, -np.inf))
    cdf = ndtr(z)
    n = len(scores)
    padded = np.hstack([np.zeros((n, 1)), cdf, np.ones((n, 1))])
    probs: FloatArray = np.diff(padded, axis=1)
    return np.clip(probs, 0.0, 1.0)


def true_score_posterior(
    scores: FloatArray, standard_errors: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Mean and standard deviation of each item's true score, given the whole batch's estimates.

    True scores are taken as normal around the batch mean with variance ``tau²``, estimated
    as the estimates' variance less their mean squared error; an item keeps the share
    ``tau² / (tau² + se²)`` of its distance from the mean. With fewer than three items, or
    no spread beyond the errors, there is nothing to estimate ``tau²`` from, and the
    estimates are returned as they are rather than all collapsed onto the mean.
    """
    scores = np.asarray(scores, dtype=np.float64)
    se = np.asarray(standard_errors, dtype=np.float64)
    if len(scores) < 3:
        return scores, se
    true_variance = float(np.var(scores, ddof=1)) - float(np.mean(np.square(se)))
    if true_variance <= 0.0:
        return scores, se
    kept = true_variance / (true_variance + np.square(se))
    centre = float(np.mean(scores))
    means: FloatArray = centre + kept * (scores - centre)
    sds: FloatArray = np.sqrt(kept) * se
    return means, sds


def project_grades(
    calibration: GradeCalibration, scores: FloatArray, standard_errors: FloatArray
) -> list[GradeProjection]:
    """One projection per essay, in input order.

    ``scores`` and ``standard_errors`` describe each true score: pass a batch's estimates
    through :func:`true_score_posterior` first.
    """
    probs = grade_probabilities(calibration, scores, standard_errors)
    labels = calibration.scale.labels
    projections = []
    for row in probs:
        best = int(np.argmax(row))
        projections.append(
            GradeProjection(
                grade=labels[best],
                probability=float(row[best]),
                probabilities={label: float(p) for label, p in zip(labels, row, strict=True)},
            )
        )
    return projections
