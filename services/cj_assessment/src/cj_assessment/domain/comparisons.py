"""Value types for comparative judgements.

A comparison is an ordered pair: ``a_index`` was shown first (position A) and
``b_index`` second, so position effects can be estimated and audited. An error
result is kept as a value (it counts as a failed comparison) but carries no
winner and is excluded from every estimate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DEFAULT_JUDGE = "default"


@dataclass(frozen=True, slots=True)
class ScheduledPair:
    """A pair chosen for judgement; ``a_index`` is shown in the first position."""

    a_index: int
    b_index: int

    def __post_init__(self) -> None:
        if self.a_index == self.b_index:
            raise ValueError(f"an item cannot be compared with itself ({self.a_index})")

    @property
    def key(self) -> tuple[int, int]:
        """Unordered identity of the pair: repeats are counted regardless of position."""
        return pair_key(self.a_index, self.b_index)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One judgement of ``a_index`` (first position) against ``b_index``."""

    a_index: int
    b_index: int
    winner_index: int | None
    judge: str = DEFAULT_JUDGE
    is_error: bool = False

    def __post_init__(self) -> None:
        if self.a_index == self.b_index:
            raise ValueError(f"an item cannot be compared with itself ({self.a_index})")
        if self.is_error:
            if self.winner_index is not None:
                raise ValueError("an error result has no winner")
        elif self.winner_index not in (self.a_index, self.b_index):
            raise ValueError(
                f"winner {self.winner_index} is neither {self.a_index} nor {self.b_index}"
            )

    @classmethod
    def judged(
        cls, a_index: int, b_index: int, *, a_won: bool, judge: str = DEFAULT_JUDGE
    ) -> Comparison:
        """A valid judgement, stated by whether the first-shown item won."""
        return cls(a_index, b_index, a_index if a_won else b_index, judge)

    @classmethod
    def error(cls, a_index: int, b_index: int, *, judge: str = DEFAULT_JUDGE) -> Comparison:
        """A failed judgement: it never enters a fit or a completion count."""
        return cls(a_index, b_index, None, judge, is_error=True)

    @property
    def loser_index(self) -> int | None:
        if self.winner_index is None:
            return None
        return self.b_index if self.winner_index == self.a_index else self.a_index

    @property
    def a_won(self) -> bool:
        return self.winner_index == self.a_index

    @property
    def key(self) -> tuple[int, int]:
        return pair_key(self.a_index, self.b_index)


def pair_key(i: int, j: int) -> tuple[int, int]:
    """Unordered pair identity, smaller index first."""
    return (i, j) if i < j else (j, i)


@dataclass(frozen=True)
class ComparisonArrays:
    """Valid judgements as parallel arrays, the form every estimator works on.

    ``first[k]`` was shown in position A, ``second[k]`` in position B and
    ``first_won[k]`` says whether A won; ``judges[k]`` names the judge.
    """

    first: IntArray
    second: IntArray
    first_won: BoolArray
    judges: tuple[str, ...]

    def __post_init__(self) -> None:
        m = len(self.first)
        if not (len(self.second) == len(self.first_won) == len(self.judges) == m):
            raise ValueError("comparison arrays must have equal lengths")

    @classmethod
    def from_comparisons(cls, comparisons: Iterable[Comparison]) -> ComparisonArrays:
        """Keep only valid judgements: an error is not a comparison."""
        valid = [c for c in comparisons if not c.is_error]
        return cls(
            first=np.fromiter((c.a_index for c in valid), dtype=np.int64, count=len(valid)),
            second=np.fromiter((c.b_index for c in valid), dtype=np.int64, count=len(valid)),
            first_won=np.fromiter((c.a_won for c in valid), dtype=np.bool_, count=len(valid)),
            judges=tuple(c.judge for c in valid),
        )

    def __len__(self) -> int:
        return len(self.first)

    @property
    def winners(self) -> IntArray:
        return np.where(self.first_won, self.first, self.second)

    @property
    def losers(self) -> IntArray:
        return np.where(self.first_won, self.second, self.first)

    def select(self, mask: BoolArray) -> ComparisonArrays:
        """The judgements where ``mask`` is true (used for split halves and per-judge views)."""
        idx = np.flatnonzero(mask)
        return ComparisonArrays(
            first=self.first[idx],
            second=self.second[idx],
            first_won=self.first_won[idx],
            judges=tuple(self.judges[k] for k in idx),
        )
