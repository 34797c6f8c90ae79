"""When a CJ batch has enough judgements, and the batch's lifecycle.

Completion counts only valid judgements: an error result is not a comparison.
The comparison target is ``min(budget, n(n-1)/2)`` so a small batch is not
held open waiting for comparisons that cannot exist, and a batch of four or
fewer items finishes as soon as every pair has a valid judgement. Otherwise a
batch stops when its scale is stable (no score moved more than a threshold
across the last few refits) or the target is reached.

The lifecycle is a value: ``collecting -> scoring -> completed | failed``.
Finalising or failing a terminal batch is a no-op that says so, because a
second completion trigger (a late result, a monitor, a redelivered event) is
normal and must not emit a second completion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from cj_assessment.domain.comparisons import Comparison, FloatArray

SMALL_BATCH_MAX_ITEMS = 4


class StopReason(StrEnum):
    SCALE_STABLE = "scale_stable"
    COMPARISON_TARGET_REACHED = "comparison_target_reached"
    ALL_PAIRS_JUDGED = "all_pairs_judged"


@dataclass(frozen=True)
class StoppingRule:
    """``budget`` is the most valid comparisons a batch may use.

    Stability is judged over ``stability_window`` consecutive score changes
    (so ``stability_window + 1`` fits) and only once every item has, on
    average, ``min_judgements_per_item`` comparisons (comparisons / items).
    """

    budget: int
    stability_window: int = 3
    stability_threshold: float = 0.05
    min_judgements_per_item: float = 3.0

    def __post_init__(self) -> None:
        if self.budget < 0:
            raise ValueError("budget cannot be negative")
        if self.stability_window < 1:
            raise ValueError("stability_window must be at least 1")


@dataclass(frozen=True)
class StopDecision:
    stop: bool
    reason: StopReason | None
    valid_comparisons: int
    target: int

    @property
    def progress(self) -> float:
        """Share of the comparison target done (1.0 when the target is 0)."""
        return 1.0 if self.target == 0 else min(1.0, self.valid_comparisons / self.target)


def comparison_target(n_items: int, budget: int) -> int:
    """The denominator of completion: ``min(budget, n(n-1)/2)``."""
    return min(budget, n_items * (n_items - 1) // 2)


def valid_comparison_count(comparisons: Sequence[Comparison]) -> int:
    return sum(1 for c in comparisons if not c.is_error)


def max_score_change(score_history: Sequence[FloatArray], window: int) -> float | None:
    """Largest |score change| of any item over the last ``window`` refits, or None if too few."""
    if len(score_history) < window + 1:
        return None
    recent = np.asarray(score_history[-(window + 1) :], dtype=np.float64)
    return float(np.max(np.abs(np.diff(recent, axis=0))))


def decide_stop(
    n_items: int,
    comparisons: Sequence[Comparison],
    score_history: Sequence[FloatArray],
    rule: StoppingRule,
) -> StopDecision:
    """Whether the batch should stop collecting, and why.

    ``score_history`` holds the scores of successive refits, oldest first.
    """
    valid = [c for c in comparisons if not c.is_error]
    target = comparison_target(n_items, rule.budget)

    def decision(reason: StopReason | None) -> StopDecision:
        return StopDecision(reason is not None, reason, len(valid), target)

    if n_items <= SMALL_BATCH_MAX_ITEMS:
        judged = {c.key for c in valid}
        if len(judged) >= n_items * (n_items - 1) // 2:
            return decision(StopReason.ALL_PAIRS_JUDGED)
    if len(valid) >= target:
        return decision(StopReason.COMPARISON_TARGET_REACHED)
    if len(valid) >= rule.min_judgements_per_item * n_items:
        change = max_score_change(score_history, rule.stability_window)
        if change is not None and change < rule.stability_threshold:
            return decision(StopReason.SCALE_STABLE)
    return decision(None)


class CJBatchStatus(StrEnum):
    COLLECTING = "collecting"
    SCORING = "scoring"
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL_STATUSES = frozenset({CJBatchStatus.COMPLETED, CJBatchStatus.FAILED})


class TransitionOutcome(StrEnum):
    APPLIED = "applied"
    ALREADY_FINAL = "already_final"


class InvalidBatchTransitionError(ValueError):
    """A transition that the lifecycle does not allow from the current status."""


@dataclass(frozen=True)
class CJBatchState:
    """The lifecycle of one CJ batch; transitions return a new state and what happened."""

    status: CJBatchStatus = CJBatchStatus.COLLECTING
    failure_reason: str | None = None
    stop_reason: StopReason | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def start_scoring(self) -> tuple[CJBatchState, TransitionOutcome]:
        """collecting -> scoring (a wave's results are in and the scale is refitted)."""
        if self.is_terminal:
            return self, TransitionOutcome.ALREADY_FINAL
        if self.status is not CJBatchStatus.COLLECTING:
            raise InvalidBatchTransitionError(f"cannot start scoring from {self.status}")
        return replace(self, status=CJBatchStatus.SCORING), TransitionOutcome.APPLIED

    def resume_collecting(self) -> tuple[CJBatchState, TransitionOutcome]:
        """scoring -> collecting (the stopping rule asked for another wave)."""
        if self.is_terminal:
            return self, TransitionOutcome.ALREADY_FINAL
        if self.status is not CJBatchStatus.SCORING:
            raise InvalidBatchTransitionError(f"cannot resume collecting from {self.status}")
        return replace(self, status=CJBatchStatus.COLLECTING), TransitionOutcome.APPLIED

    def finalise(self, reason: StopReason) -> tuple[CJBatchState, TransitionOutcome]:
        """-> completed from any live status; on a terminal batch, a no-op."""
        if self.is_terminal:
            return self, TransitionOutcome.ALREADY_FINAL
        return (
            replace(self, status=CJBatchStatus.COMPLETED, stop_reason=reason),
            TransitionOutcome.APPLIED,
        )

    def fail(self, reason: str) -> tuple[CJBatchState, TransitionOutcome]:
        """-> failed with a reason from any live status; on a terminal batch, a no-op."""
        if self.is_terminal:
            return self, TransitionOutcome.ALREADY_FINAL
        if not reason:
            raise ValueError("a failed batch needs a reason")
        return (
            replace(self, status=CJBatchStatus.FAILED, failure_reason=reason),
            TransitionOutcome.APPLIED,
        )
