"""The essay (slot) state machine: every allowed transition is one entry of `TRANSITIONS`.

States are `common_core.status.EssayStatus`. Intake moves a slot from `awaiting_content` to
filled or failed and, once the batch is complete, to `ready_for_processing`. Each phase of
`PHASE_ORDER` then adds `requested -> succeeded | failed`, built from `PHASE_ESSAY_STATUSES`,
so a new phase is new data rather than new code. An essay only moves forward: a phase can be
requested from `ready_for_processing` or from the success of an earlier phase, a failed essay
stays failed (BOS continues with the succeeded essays), and a terminal state has no way out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from common_core.status import PHASE_ESSAY_STATUSES, EssayStatus, PhaseName


class IntakeEvent(StrEnum):
    """What can happen to a slot while the batch's content arrives."""

    CONTENT_ASSIGNED = "content_assigned"
    VALIDATION_FAILED = "validation_failed"
    INTAKE_COMPLETED = "intake_completed"


class PhaseStep(StrEnum):
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class PhaseEvent:
    """A phase command or result for one essay."""

    phase: PhaseName
    step: PhaseStep


EssayEvent = IntakeEvent | PhaseEvent

PHASE_ORDER: tuple[PhaseName, ...] = (PhaseName.SPELLCHECK, PhaseName.CJ_ASSESSMENT)
"""Phases in the only order an essay may go through them (a phase may be skipped)."""

FREE_SLOT = EssayStatus.AWAITING_CONTENT
"""The one state in which a slot accepts content or a validation failure."""


class IllegalTransition(ValueError):  # noqa: N818 (the domain's name for it)
    """`event` is not allowed in state `current`."""

    def __init__(self, current: EssayStatus, event: EssayEvent) -> None:
        super().__init__(f"essay in state {current.value!r} cannot take event {event!r}")
        self.current = current
        self.event = event


def _build_transitions() -> Mapping[tuple[EssayStatus, EssayEvent], EssayStatus]:
    transitions: dict[tuple[EssayStatus, EssayEvent], EssayStatus] = {
        (FREE_SLOT, IntakeEvent.CONTENT_ASSIGNED): EssayStatus.CONTENT_PROVISIONED,
        (FREE_SLOT, IntakeEvent.VALIDATION_FAILED): EssayStatus.VALIDATION_FAILED,
        (
            EssayStatus.CONTENT_PROVISIONED,
            IntakeEvent.INTAKE_COMPLETED,
        ): EssayStatus.READY_FOR_PROCESSING,
    }
    if set(PHASE_ORDER) != set(PHASE_ESSAY_STATUSES):
        raise RuntimeError("PHASE_ORDER must list every phase of PHASE_ESSAY_STATUSES")
    entry_states = [EssayStatus.READY_FOR_PROCESSING]
    for phase in PHASE_ORDER:
        states = PHASE_ESSAY_STATUSES[phase]
        for source in entry_states:
            transitions[(source, PhaseEvent(phase, PhaseStep.REQUESTED))] = states.requested
        transitions[(states.requested, PhaseEvent(phase, PhaseStep.SUCCEEDED))] = states.succeeded
        transitions[(states.requested, PhaseEvent(phase, PhaseStep.FAILED))] = states.failed
        entry_states.append(states.succeeded)
    return MappingProxyType(transitions)


TRANSITIONS: Mapping[tuple[EssayStatus, EssayEvent], EssayStatus] = _build_transitions()

TERMINAL_STATES: frozenset[EssayStatus] = frozenset(
    state for state in EssayStatus if all(source != state for source, _ in TRANSITIONS)
)
"""States with no outgoing transition: validation failed, a failed phase, the last success."""


def transition(current: EssayStatus, event: EssayEvent) -> EssayStatus:
    """The state `event` leads to from `current`; raises IllegalTransition if not allowed."""
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise IllegalTransition(current, event) from None


def allowed_events(current: EssayStatus) -> frozenset[EssayEvent]:
    return frozenset(event for source, event in TRANSITIONS if source == current)


def all_events() -> frozenset[EssayEvent]:
    """Every intake and phase event, allowed somewhere or not."""
    phase_events = {PhaseEvent(phase, step) for phase in PhaseName for step in PhaseStep}
    return frozenset({*IntakeEvent, *phase_events})
