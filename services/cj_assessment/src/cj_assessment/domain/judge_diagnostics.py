"""Per-judge (per-model) fit diagnostics.

Infit mean-square is the information-weighted mean of squared residuals,
``sum (y - p)² / sum p(1 - p)``, with ``p`` the model probability that the
first-shown item wins (scores plus the batch's position bias). About 1 means
the judge agrees with the scale as much as the model expects; well above 1 (a
common flag is > 1.3) means erratic judgements; well below 1 means more
deterministic than the model. The first-position rate is the share of
judgements won by the item shown first: 0.5 for a judge without position bias,
since positions are a fair coin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cj_assessment.domain.comparisons import Comparison, ComparisonArrays, FloatArray
from cj_assessment.domain.scaling import as_arrays, first_position_probability


@dataclass(frozen=True)
class JudgeDiagnostics:
    judge: str
    n_comparisons: int
    infit_mean_square: float
    first_position_rate: float


def judge_diagnostics(
    scores: FloatArray,
    comparisons: Sequence[Comparison] | ComparisonArrays,
    *,
    position_bias: float = 0.0,
) -> list[JudgeDiagnostics]:
    """One entry per judge with valid judgements, sorted by judge name; errors excluded."""
    data = as_arrays(comparisons)
    judges = np.asarray(data.judges, dtype=object)
    p = first_position_probability(scores, data.first, data.second, position_bias)
    outcome = data.first_won.astype(np.float64)
    result = []
    for judge in sorted(set(data.judges)):
        mask = judges == judge
        variance = float(np.sum(p[mask] * (1.0 - p[mask])))
        squared = float(np.sum((outcome[mask] - p[mask]) ** 2))
        result.append(
            JudgeDiagnostics(
                judge=judge,
                n_comparisons=int(mask.sum()),
                infit_mean_square=squared / variance if variance > 0 else float("nan"),
                first_position_rate=float(outcome[mask].mean()),
            )
        )
    return result
