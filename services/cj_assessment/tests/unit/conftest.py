"""Simulated judgements for the CJ domain tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from cj_assessment.domain.comparisons import ComparisonArrays
from scipy.special import expit

Simulate = Callable[..., ComparisonArrays]


def simulate_judgements(
    theta: np.ndarray,
    n_comparisons: int,
    rng: np.random.Generator,
    *,
    position_bias: float = 0.0,
    judge: str = "sim",
) -> ComparisonArrays:
    """Random balanced pairs (successive random matchings) judged by a Bradley-Terry judge."""
    n = len(theta)
    rounds = -(-2 * n_comparisons // n)
    pairs = np.concatenate([rng.permutation(n)[: n - n % 2] for _ in range(rounds)])
    pairs = pairs.reshape(-1, 2)[:n_comparisons]
    first, second = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    won = rng.random(len(first)) < expit(theta[first] - theta[second] + position_bias)
    return ComparisonArrays(first, second, won, (judge,) * len(first))


@pytest.fixture
def simulate() -> Simulate:
    return simulate_judgements
