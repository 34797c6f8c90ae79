"""The essay state machine, property-tested: no event sequence reaches an illegal state."""

from __future__ import annotations

from collections import deque

import pytest
from essay_lifecycle.domain.essay_state import (
    FREE_SLOT,
    PHASE_ORDER,
    TERMINAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    IntakeEvent,
    PhaseEvent,
    PhaseStep,
    all_events,
    allowed_events,
    transition,
)
from hypothesis import given
from hypothesis import strategies as st

from common_core.status import PHASE_ESSAY_STATUSES, EssayStatus

EVENTS = sorted(all_events(), key=repr)
events = st.sampled_from(EVENTS)
states = st.sampled_from(list(EssayStatus))

INTAKE_RANK = {
    EssayStatus.AWAITING_CONTENT: 0,
    EssayStatus.CONTENT_PROVISIONED: 1,
    EssayStatus.VALIDATION_FAILED: 1,
    EssayStatus.READY_FOR_PROCESSING: 2,
}


def rank(state: EssayStatus) -> int:
    """An independent oracle of progress: intake first, then each phase in order."""
    if state in INTAKE_RANK:
        return INTAKE_RANK[state]
    for index, phase in enumerate(PHASE_ORDER):
        phase_states = PHASE_ESSAY_STATUSES[phase]
        if state is phase_states.requested:
            return 3 + 2 * index
        if state in phase_states.final:
            return 4 + 2 * index
    raise AssertionError(f"{state} has no rank")


def legal_step(source: EssayStatus, target: EssayStatus) -> bool:
    """The rules the table must obey, written independently of the table."""
    if target is EssayStatus.CONTENT_PROVISIONED or target is EssayStatus.VALIDATION_FAILED:
        return source is EssayStatus.AWAITING_CONTENT
    if target is EssayStatus.READY_FOR_PROCESSING:
        return source is EssayStatus.CONTENT_PROVISIONED
    for index, phase in enumerate(PHASE_ORDER):
        phase_states = PHASE_ESSAY_STATUSES[phase]
        if target is phase_states.requested:
            earlier_successes = {PHASE_ESSAY_STATUSES[p].succeeded for p in PHASE_ORDER[:index]}
            return source is EssayStatus.READY_FOR_PROCESSING or source in earlier_successes
        if target in phase_states.final:
            return source is phase_states.requested
    return False


@given(st.lists(events, max_size=40))
def test_random_event_sequences_only_take_legal_steps(sequence) -> None:
    state = FREE_SLOT
    terminal_reached = False
    for event in sequence:
        if event not in allowed_events(state):
            with pytest.raises(IllegalTransition):
                transition(state, event)
            continue
        new_state = transition(state, event)
        assert not terminal_reached, f"left terminal state {state} with {event}"
        assert legal_step(state, new_state), f"{state} -> {new_state} by {event}"
        assert rank(new_state) > rank(state)
        state = new_state
        terminal_reached = state in TERMINAL_STATES


@given(states, events)
def test_transition_agrees_with_allowed_events(state, event) -> None:
    if event in allowed_events(state):
        assert transition(state, event) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(IllegalTransition):
            transition(state, event)


@given(st.sampled_from(sorted(TERMINAL_STATES)), st.lists(events, min_size=1, max_size=10))
def test_terminal_states_stay_terminal(state, sequence) -> None:
    for event in sequence:
        with pytest.raises(IllegalTransition):
            transition(state, event)


def test_terminal_states_are_failures_and_the_last_success() -> None:
    last = PHASE_ESSAY_STATUSES[PHASE_ORDER[-1]]
    assert (
        frozenset(
            {
                EssayStatus.VALIDATION_FAILED,
                last.succeeded,
                *(PHASE_ESSAY_STATUSES[p].failed for p in PHASE_ORDER),
            }
        )
        == TERMINAL_STATES
    )


def test_every_state_is_reachable_from_a_free_slot() -> None:
    reached = {FREE_SLOT}
    queue = deque([FREE_SLOT])
    while queue:
        state = queue.popleft()
        for event in allowed_events(state):
            target = transition(state, event)
            if target not in reached:
                reached.add(target)
                queue.append(target)
    assert reached == set(EssayStatus)


def test_intake_and_phase_steps_by_name() -> None:
    assert transition(FREE_SLOT, IntakeEvent.CONTENT_ASSIGNED) is EssayStatus.CONTENT_PROVISIONED
    assert transition(FREE_SLOT, IntakeEvent.VALIDATION_FAILED) is EssayStatus.VALIDATION_FAILED
    ready = transition(EssayStatus.CONTENT_PROVISIONED, IntakeEvent.INTAKE_COMPLETED)
    assert ready is EssayStatus.READY_FOR_PROCESSING
    spellcheck, cj = PHASE_ORDER
    requested = transition(ready, PhaseEvent(spellcheck, PhaseStep.REQUESTED))
    done = transition(requested, PhaseEvent(spellcheck, PhaseStep.SUCCEEDED))
    assert done is EssayStatus.SPELLCHECKED
    assert transition(done, PhaseEvent(cj, PhaseStep.REQUESTED)) is EssayStatus.CJ_REQUESTED
    # Content cannot go to a slot twice, and a phase cannot start before intake completed.
    for state, event in (
        (EssayStatus.CONTENT_PROVISIONED, IntakeEvent.CONTENT_ASSIGNED),
        (EssayStatus.CONTENT_PROVISIONED, PhaseEvent(spellcheck, PhaseStep.REQUESTED)),
        (EssayStatus.SPELLCHECKED, PhaseEvent(spellcheck, PhaseStep.REQUESTED)),
    ):
        with pytest.raises(IllegalTransition):
            transition(state, event)
