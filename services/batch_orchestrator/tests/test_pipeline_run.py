"""The pipeline run state machine, over random runs."""

from __future__ import annotations

from typing import cast

from batch_orchestrator.domain.pipeline_run import (
    PhaseState,
    final_status,
    finish_phase,
    first_to_dispatch,
    phase_status_for,
)
from hypothesis import given
from hypothesis import strategies as st

from common_core.status import BatchStatus, PhaseName, PhaseStatus

counts = st.integers(min_value=0, max_value=500)


@st.composite
def runs_with_a_dispatched_phase(draw: st.DrawFn) -> tuple[list[PhaseState], int]:
    """Skipped or finished phases, one dispatched phase, then pending or skipped ones."""
    before = draw(
        st.lists(
            st.sampled_from(
                [PhaseStatus.SKIPPED, PhaseStatus.COMPLETED, PhaseStatus.COMPLETED_WITH_FAILURES]
            ),
            max_size=4,
        )
    )
    after = draw(st.lists(st.sampled_from([PhaseStatus.PENDING, PhaseStatus.SKIPPED]), max_size=4))
    statuses = [*before, PhaseStatus.DISPATCHED, *after]
    phases = [PhaseState(cast(PhaseName, f"p{i}"), s) for i, s in enumerate(statuses)]
    return phases, len(before)


@given(run=runs_with_a_dispatched_phase(), succeeded=counts, failed=counts)
def test_an_outcome_finishes_the_phase_and_moves_on_or_ends_the_run(
    run: tuple[list[PhaseState], int], succeeded: int, failed: int
) -> None:
    phases, index = run
    step = finish_phase(phases, phases[index].phase, succeeded_count=succeeded, failed_count=failed)
    assert step.updated is not None
    assert step.updated.status is phase_status_for(succeeded, failed)
    assert step.updated.status.is_final
    upcoming = [p.phase for p in phases[index + 1 :] if p.status is PhaseStatus.PENDING]
    if step.updated.status is PhaseStatus.FAILED:
        assert (step.next_phase, step.final_status) == (None, BatchStatus.FAILED)
    elif upcoming:
        assert (step.next_phase, step.final_status) == (upcoming[0], None)
    else:
        assert step.next_phase is None
        after = [step.updated if p.phase == step.updated.phase else p for p in phases]
        assert step.final_status is final_status(after)
        assert step.final_status is not BatchStatus.FAILED


@given(run=runs_with_a_dispatched_phase(), succeeded=counts, failed=counts, again=counts)
def test_a_duplicate_outcome_changes_nothing(
    run: tuple[list[PhaseState], int], succeeded: int, failed: int, again: int
) -> None:
    phases, index = run
    phase = phases[index].phase
    step = finish_phase(phases, phase, succeeded_count=succeeded, failed_count=failed)
    assert step.updated is not None
    after = [step.updated if p.phase == phase else p for p in phases]
    duplicate = finish_phase(after, phase, succeeded_count=again, failed_count=again)
    assert not duplicate.applies
    assert (duplicate.next_phase, duplicate.final_status) == (None, None)


@given(run=runs_with_a_dispatched_phase(), data=st.data())
def test_only_the_dispatched_phase_accepts_an_outcome(
    run: tuple[list[PhaseState], int], data: st.DataObject
) -> None:
    phases, index = run
    other = data.draw(st.sampled_from([*[p.phase for p in phases], cast(PhaseName, "absent")]))
    step = finish_phase(phases, other, succeeded_count=1, failed_count=0)
    assert step.applies is (other == phases[index].phase)


def test_statuses_from_counts_and_runs() -> None:
    assert phase_status_for(3, 0) is PhaseStatus.COMPLETED
    assert phase_status_for(2, 1) is PhaseStatus.COMPLETED_WITH_FAILURES
    assert phase_status_for(0, 3) is PhaseStatus.FAILED
    assert phase_status_for(0, 0) is PhaseStatus.FAILED
    skipped = PhaseState(PhaseName.SPELLCHECK, PhaseStatus.SKIPPED)
    assert first_to_dispatch([skipped]) is None
    assert final_status([skipped]) is BatchStatus.COMPLETED_SUCCESSFULLY
    assert (
        final_status([skipped, PhaseState(PhaseName.CJ_ASSESSMENT, PhaseStatus.FAILED)])
        is BatchStatus.FAILED
    )
