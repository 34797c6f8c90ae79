"""One pipeline run's phases as a state machine: what an outcome or a timeout changes.

A phase moves pending → dispatched → completed / completed_with_failures / failed; a phase an
earlier run completed is skipped from the start. Final statuses never change again, so a
duplicate or late outcome is a no-op. The run ends when a phase fails (the rest stay pending,
"never reached") or when no phase is left to dispatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from common_core.errors import ErrorCode
from common_core.status import BatchStatus, PhaseName, PhaseStatus

PHASE_TIMEOUT_REASON = ErrorCode.PHASE_TIMEOUT.value
"""Why the monitor failed a phase (the batch's and the phase's `failure_reason`)."""


@dataclass(frozen=True)
class PhaseState:
    phase: PhaseName
    status: PhaseStatus
    succeeded_count: int = 0
    failed_count: int = 0
    failure_reason: str | None = None


@dataclass(frozen=True)
class RunStep:
    """What an outcome does to a run; `updated` is None when it changes nothing."""

    updated: PhaseState | None
    next_phase: PhaseName | None = None
    final_status: BatchStatus | None = None
    ignored_because: str | None = None

    @property
    def applies(self) -> bool:
        return self.updated is not None


def phase_status_for(succeeded_count: int, failed_count: int) -> PhaseStatus:
    """A finished phase's status from its essay counts."""
    if failed_count == 0 and succeeded_count > 0:
        return PhaseStatus.COMPLETED
    if succeeded_count > 0:
        return PhaseStatus.COMPLETED_WITH_FAILURES
    return PhaseStatus.FAILED


def first_to_dispatch(phases: Sequence[PhaseState]) -> PhaseName | None:
    """The phase a new run starts with, or None when every phase is skipped."""
    return next((p.phase for p in phases if p.status is PhaseStatus.PENDING), None)


def final_status(phases: Sequence[PhaseState]) -> BatchStatus:
    """How a run ended: failed if a phase failed, with failures if one had any."""
    statuses = {p.status for p in phases}
    if PhaseStatus.FAILED in statuses:
        return BatchStatus.FAILED
    if PhaseStatus.COMPLETED_WITH_FAILURES in statuses:
        return BatchStatus.COMPLETED_WITH_FAILURES
    return BatchStatus.COMPLETED_SUCCESSFULLY


def finish_phase(
    phases: Sequence[PhaseState],
    phase: PhaseName,
    *,
    succeeded_count: int,
    failed_count: int,
    failure_reason: str | None = None,
) -> RunStep:
    """Apply a phase's end (an outcome, or a timeout with no survivors) to the run."""
    current = next((p for p in phases if p.phase == phase), None)
    if current is None:
        return RunStep(None, ignored_because=f"{phase} is not part of this run")
    if current.status is not PhaseStatus.DISPATCHED:
        return RunStep(None, ignored_because=f"{phase} is {current.status}, not dispatched")
    status = phase_status_for(succeeded_count, failed_count)
    updated = replace(
        current,
        status=status,
        succeeded_count=succeeded_count,
        failed_count=failed_count,
        failure_reason=failure_reason if status is PhaseStatus.FAILED else None,
    )
    after = [updated if p.phase == phase else p for p in phases]
    if status is not PhaseStatus.FAILED:
        index = [p.phase for p in phases].index(phase)
        upcoming = next(
            (p.phase for p in phases[index + 1 :] if p.status is PhaseStatus.PENDING), None
        )
        if upcoming is not None:
            return RunStep(updated, next_phase=upcoming)
    return RunStep(updated, final_status=final_status(after))
