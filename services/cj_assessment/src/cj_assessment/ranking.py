"""The final ranking of a CJ batch from its judgements: pure, so every ending uses the same rule.

A batch ends with a ranking when its comparison graph is connected (every item is linked to
every other by a chain of valid judgements); otherwise scores across components mean nothing
and the batch fails with ``insufficient_comparisons``. A batch of one item (one essay and no
anchors) is complete without any comparison: it is rank 1 on a scale of its own (score 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np

from cj_assessment.domain.comparisons import Comparison, ComparisonArrays
from cj_assessment.domain.grade_projection import (
    AnchorScore,
    CalibrationError,
    GradeProjection,
    GradeScale,
    calibrate,
    project_grades,
    true_score_posterior,
)
from cj_assessment.domain.judge_diagnostics import judge_diagnostics
from cj_assessment.domain.reliability import marginal_reliability, scale_separation_reliability
from cj_assessment.domain.scaling import (
    DisconnectedComparisonGraphError,
    ScalingError,
    fit_bradley_terry,
)
from common_core.errors import ErrorCode


@dataclass(frozen=True)
class RankItem:
    """One item of the batch, in item-index order: a student's essay or an anchor."""

    essay_id: UUID
    is_anchor: bool = False
    anchor_grade: str | None = None


@dataclass(frozen=True)
class RankedItem:
    item_index: int
    essay_id: UUID
    is_anchor: bool
    rank: int
    bt_score: float
    bt_standard_error: float
    comparison_count: int
    grade: GradeProjection | None


@dataclass(frozen=True)
class BatchRanking:
    """Items best first, the valid judgements used, and diagnostics of the scale."""

    items: list[RankedItem]
    valid_comparisons: int
    diagnostics: dict[str, Any]


class RankingFailedError(Exception):
    """The judgements do not support a ranking; ``code`` says why for the failure event."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def rank_batch(
    items: Sequence[RankItem], comparisons: Sequence[Comparison], scale: GradeScale | None
) -> BatchRanking:
    """Fit the scale on the valid judgements and rank; raises RankingFailedError."""
    if not items:
        raise RankingFailedError(ErrorCode.VALIDATION_ERROR, "a batch without essays")
    if len(items) == 1:
        only = items[0]
        alone = RankedItem(0, only.essay_id, only.is_anchor, 1, 0.0, 0.0, 0, None)
        return BatchRanking([alone], 0, {"single_item": True})
    data = ComparisonArrays.from_comparisons(comparisons)
    if len(data) == 0:
        raise RankingFailedError(
            ErrorCode.INSUFFICIENT_COMPARISONS, "no valid comparison was judged"
        )
    try:
        fit = fit_bradley_terry(len(items), data)
    except DisconnectedComparisonGraphError as exc:
        raise RankingFailedError(
            ErrorCode.INSUFFICIENT_COMPARISONS,
            f"the judgements split the essays into {len(exc.components)} groups that were "
            "never compared with each other",
        ) from exc
    except ScalingError as exc:
        raise RankingFailedError(ErrorCode.PROCESSING_FAILED, str(exc)) from exc

    counts = np.bincount(np.concatenate([data.first, data.second]), minlength=len(items))
    grades = _project(items, fit.scores, fit.standard_errors, scale)
    order = sorted(range(len(items)), key=lambda i: (-float(fit.scores[i]), i))
    ranked = [
        RankedItem(
            item_index=i,
            essay_id=items[i].essay_id,
            is_anchor=items[i].is_anchor,
            rank=position + 1,
            bt_score=float(fit.scores[i]),
            bt_standard_error=float(fit.standard_errors[i]),
            comparison_count=int(counts[i]),
            grade=None if grades is None else grades[i],
        )
        for position, i in enumerate(order)
    ]
    reliability = marginal_reliability(len(items), data, position_bias=fit.position_bias)
    diagnostics: dict[str, Any] = {
        "reliability": reliability.reliability,
        "reliability_spread_detected": reliability.spread_detected,
        "ssr": scale_separation_reliability(fit.scores, fit.standard_errors),
        "position_bias": fit.position_bias,
        "position_bias_se": fit.position_bias_se,
        "graded": grades is not None,
        "judges": [
            {
                "judge": d.judge,
                "comparisons": d.n_comparisons,
                "infit": d.infit_mean_square if np.isfinite(d.infit_mean_square) else None,
                "first_position_rate": d.first_position_rate,
            }
            for d in judge_diagnostics(fit.scores, data, position_bias=fit.position_bias)
        ],
    }
    return BatchRanking(ranked, len(data), diagnostics)


def _project(
    items: Sequence[RankItem],
    scores: np.ndarray[Any, np.dtype[np.float64]],
    standard_errors: np.ndarray[Any, np.dtype[np.float64]],
    scale: GradeScale | None,
) -> list[GradeProjection] | None:
    """Grades for every item when anchors of two or more grades place the boundaries.

    Essays are read from their true-score posterior; an anchor from its own estimate, the
    footing on which it placed the boundaries, so its projection checks the calibration.
    """
    if scale is None:
        return None
    anchor_scores = [
        AnchorScore(grade=item.anchor_grade, score=float(scores[i]))
        for i, item in enumerate(items)
        if item.is_anchor and item.anchor_grade is not None
    ]
    try:
        calibration = calibrate(scale, anchor_scores)
    except (CalibrationError, ValueError):
        return None
    means, sds = true_score_posterior(scores, standard_errors)
    anchor = np.array([item.is_anchor for item in items], dtype=np.bool_)
    means = np.where(anchor, scores, means)
    sds = np.where(anchor, standard_errors, sds)
    return project_grades(calibration, means, sds)
