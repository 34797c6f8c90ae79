"""Bradley-Terry scale from comparative judgements.

Scores come from ``choix.ilsr_pairwise`` (iterative Luce spectral ranking),
fast enough to refit a 1,000-essay batch after every wave.

Prior. Each item plays ``prior_games`` virtual wins and as many virtual losses
against a virtual reference item. That is a weak, symmetric prior on every
score (one win and one loss is roughly N(0, 1.8²) on the logit scale) which
keeps an essay that won or lost everything finite. choix's own ``alpha`` is
kept tiny (it must be > 0 for a unique solution): it acts like pseudo-games
between *every* pair of items, and across a batch those add up into a pull
that squeezes whole regions of the scale together when most comparisons are
between near neighbours, as adaptive pairing makes them.

Connectivity. Scores in two components of the comparison graph are related
only through the prior, so by default a disconnected graph raises
:class:`DisconnectedComparisonGraphError` listing the components. Pair
selection may ask for a provisional fit (``require_connected=False``) during
the first waves, where the prior is exactly what it needs.

Standard errors come from the observed Fisher information: the Hessian of the
penalised log-likelihood (real judgements, virtual games, choix's
pseudo-games) at the estimate is a graph Laplacian; grounding the reference
item makes it invertible and centring the inverse gives the covariance of the
mean-centred scores.

Position bias is an order effect ``gamma`` in
``P(A wins) = sigmoid(s_A - s_B + gamma)``, estimated by one-dimensional
maximum likelihood given the scores. Positions are a fair coin per pair, so
the scores are not biased by it. Error results never enter a fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import choix
import numpy as np
from scipy.linalg import lapack
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from cj_assessment.domain.comparisons import Comparison, ComparisonArrays, FloatArray, IntArray

DEFAULT_PRIOR_GAMES = 1
CHOIX_ALPHA = 0.01
DEFAULT_TOLERANCE = 1e-5
MAX_ITERATIONS = 2_000
# Prior on the order effect, N(0, 5²): it only matters when one position won every judgement.
_POSITION_BIAS_PRECISION = 1.0 / 25.0


class ScalingError(ValueError):
    """The judgements cannot be turned into a scale."""


class DisconnectedComparisonGraphError(ScalingError):
    """Some items are not linked by any chain of comparisons to the others."""

    def __init__(self, components: list[list[int]]) -> None:
        self.components = components
        sizes = sorted((len(c) for c in components), reverse=True)
        super().__init__(
            f"comparison graph has {len(components)} components (largest sizes {sizes[:10]}); "
            "scores across components are not comparable"
        )


@dataclass(frozen=True)
class BradleyTerryFit:
    """Mean-centred scores on the logit scale, their covariance and the order effect."""

    scores: FloatArray
    standard_errors: FloatArray
    covariance: FloatArray
    position_bias: float
    position_bias_se: float
    n_comparisons: int

    @property
    def n_items(self) -> int:
        return len(self.scores)


def comparison_components(n_items: int, first: IntArray, second: IntArray) -> list[IntArray]:
    """Connected components of the comparison graph, largest first."""
    if n_items == 0:
        return []
    ones = np.ones(len(first), dtype=np.float64)
    graph = csr_matrix((ones, (first, second)), shape=(n_items, n_items))
    count, labels = connected_components(graph, directed=False)
    components = [np.flatnonzero(labels == k).astype(np.int64) for k in range(count)]
    components.sort(key=len, reverse=True)
    return components


def is_connected(n_items: int, comparisons: ComparisonArrays) -> bool:
    return len(comparison_components(n_items, comparisons.first, comparisons.second)) <= 1


def as_arrays(comparisons: Sequence[Comparison] | ComparisonArrays) -> ComparisonArrays:
    if isinstance(comparisons, ComparisonArrays):
        return comparisons
    return ComparisonArrays.from_comparisons(comparisons)


def fit_bradley_terry(
    n_items: int,
    comparisons: Sequence[Comparison] | ComparisonArrays,
    *,
    prior_games: int = DEFAULT_PRIOR_GAMES,
    initial_scores: FloatArray | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    require_connected: bool = True,
) -> BradleyTerryFit:
    """Fit the scale; error results are dropped first.

    ``initial_scores`` (the previous wave's scores) warm-starts the iteration,
    which is what makes a refit after each wave cheap.
    """
    if n_items < 2:
        raise ScalingError("a scale needs at least two items")
    if prior_games < 0:
        raise ValueError("prior_games cannot be negative")
    data = as_arrays(comparisons)
    if len(data) and (
        min(int(data.first.min()), int(data.second.min())) < 0
        or max(int(data.first.max()), int(data.second.max())) >= n_items
    ):
        raise ScalingError("a comparison refers to an item outside the batch")
    components = comparison_components(n_items, data.first, data.second)
    if require_connected and len(components) > 1:
        raise DisconnectedComparisonGraphError([c.tolist() for c in components])
    if prior_games == 0 and len(components) > 1:
        raise DisconnectedComparisonGraphError([c.tolist() for c in components])

    reference = n_items
    alpha = CHOIX_ALPHA / (n_items + 1)
    everyone = list(range(n_items))
    pairs = list(zip(data.winners.tolist(), data.losers.tolist(), strict=True))
    pairs += list(zip(everyone, [reference] * n_items, strict=True)) * prior_games
    pairs += list(zip([reference] * n_items, everyone, strict=True)) * prior_games
    start = None if initial_scores is None else np.append(initial_scores, 0.0)
    try:
        raw = choix.ilsr_pairwise(
            n_items + 1,
            pairs,
            alpha=alpha,
            initial_params=start,
            max_iter=MAX_ITERATIONS,
            tol=tolerance,
        )
    except RuntimeError as exc:  # choix reports non-convergence this way
        raise ScalingError(f"Bradley-Terry estimation did not converge: {exc}") from exc
    params = np.asarray(raw, dtype=np.float64)
    covariance = _score_covariance(data, params, prior_games, alpha)
    scores = params[:n_items] - params[:n_items].mean()
    standard_errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    gamma, gamma_se = estimate_position_bias(scores, data, standard_errors)
    return BradleyTerryFit(
        scores=scores,
        standard_errors=standard_errors,
        covariance=covariance,
        position_bias=gamma,
        position_bias_se=gamma_se,
        n_comparisons=len(data),
    )


def _score_covariance(
    data: ComparisonArrays, params: FloatArray, prior_games: int, alpha: float
) -> FloatArray:
    size = len(params)
    n_items = size - 1
    counts = np.zeros((size, size))
    np.add.at(counts, (data.first, data.second), 1.0)
    counts[:n_items, n_items] += 2.0 * prior_games
    counts += counts.T
    weights = np.exp(params - params.max())
    weights *= size / weights.sum()
    # At choix's fixed point alpha is alpha * (w_i + w_j) pseudo-wins each way per pair.
    counts += 2.0 * alpha * (weights[:, None] + weights[None, :])
    prob = expit(params[:, None] - params[None, :])
    coupling = counts * prob * (1.0 - prob)
    np.fill_diagonal(coupling, 0.0)
    hessian = np.diag(coupling.sum(axis=1)) - coupling
    grounded = np.ascontiguousarray(hessian[:n_items, :n_items])
    factor, info = lapack.dpotrf(grounded, lower=False, overwrite_a=True)
    if info == 0:
        inverse, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise ScalingError("the information matrix is not positive definite")
    full = np.triu(inverse) + np.triu(inverse, k=1).T
    row_means = full.mean(axis=1)
    centred: FloatArray = full - row_means[:, None] - row_means[None, :] + row_means.mean()
    return centred


def estimate_position_bias(
    scores: FloatArray, data: ComparisonArrays, standard_errors: FloatArray | None = None
) -> tuple[float, float]:
    """MLE of the first-position advantage (logit) given the scores, with its SE.

    Noise in the scores attenuates an intercept fitted on them, so when
    standard errors are given each judgement's predictor is shrunk by the
    probit approximation ``1 / sqrt(1 + pi * var(s_A - s_B) / 8)``.
    """
    if len(data) == 0:
        return 0.0, float("inf")
    diff = scores[data.first] - scores[data.second]
    if standard_errors is None:
        shrink = np.ones_like(diff)
    else:
        var = standard_errors[data.first] ** 2 + standard_errors[data.second] ** 2
        shrink = 1.0 / np.sqrt(1.0 + np.pi * var / 8.0)
    outcome = data.first_won.astype(np.float64)
    gamma = 0.0
    info = _POSITION_BIAS_PRECISION
    for _ in range(100):
        p = expit(shrink * (diff + gamma))
        gradient = float(np.sum(shrink * (outcome - p))) - _POSITION_BIAS_PRECISION * gamma
        info = float(np.sum(shrink**2 * p * (1.0 - p))) + _POSITION_BIAS_PRECISION
        step = gradient / info
        gamma += step
        if abs(step) < 1e-10:
            break
    return gamma, float(1.0 / np.sqrt(info))


def first_position_probability(
    scores: FloatArray, first: IntArray, second: IntArray, position_bias: float = 0.0
) -> FloatArray:
    """Model probability that the item shown first wins."""
    return np.asarray(expit(scores[first] - scores[second] + position_bias), dtype=np.float64)
