"""Phases inside the caller's transaction: essays enter a phase, finish it, and the phase ends.

Used by every phase handler, so spellcheck and CJ start, finish and report the same way. A
phase starts once per batch (a second command is a no-op); an essay finishes once (a late or
duplicate result is ignored and counted); and "is the phase complete?" is decided under the
batch row lock, so exactly one `ELSBatchPhaseOutcome` is emitted however many workers race
(invariant 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events.base import EssayTextRef, FailedEssay
from common_core.events.pipeline import ELSBatchPhaseOutcome
from common_core.status import PHASE_ESSAY_STATUSES, PhaseName
from essay_lifecycle.domain.essay_state import (
    IllegalTransition,
    PhaseEvent,
    PhaseStep,
    transition,
)
from essay_lifecycle.metrics import (
    PHASE_COMMANDS_TOTAL,
    PHASE_OUTCOMES_TOTAL,
    PHASE_RESULTS_TOTAL,
)
from essay_lifecycle.phase_repository import EnteredEssay, PhaseRepository
from essay_lifecycle.repository import EssayRepository
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger

log = get_logger(__name__)


class UnknownBatchError(RuntimeError):
    """A phase command for a batch ELS never registered: retried, then dead-lettered."""


class ResultHandling(StrEnum):
    """What became of one essay's result."""

    APPLIED = "applied"
    NOT_IN_PHASE = "not_in_phase"
    NOT_REQUESTED = "not_requested"


@dataclass(frozen=True)
class PhaseConfig:
    service_name: str = "essay_lifecycle"


class PhaseTracking:
    """The phase rules of one transaction (one consumed event)."""

    def __init__(self, uow: UnitOfWork, config: PhaseConfig) -> None:
        self._uow = uow
        self._config = config
        self._essays = EssayRepository(uow.session)
        self._phases = PhaseRepository(uow.session)

    async def start(
        self,
        batch_id: UUID,
        phase: PhaseName,
        refs: Sequence[EssayTextRef],
        correlation_id: UUID,
    ) -> list[EssayTextRef] | None:
        """Move the listed essays into the phase; the ones that entered it, None if started before.

        An essay that cannot enter (unknown to the batch, or not in a state the phase may
        start from) is recorded as failed at once with the reason, so it is still reported.
        """
        if await self._essays.lock_batch(batch_id) is None:
            raise UnknownBatchError(f"batch {batch_id} is not registered with ELS")
        if not await self._phases.insert_phase(batch_id, phase, correlation_id):
            PHASE_COMMANDS_TOTAL.labels(phase.value, "duplicate").inc()
            log.info("phase_already_started", batch_id=str(batch_id), phase=phase.value)
            return None
        slots = {essay.essay_id: essay for essay in await self._essays.essays_of(batch_id)}
        states = PHASE_ESSAY_STATUSES[phase]
        entered: list[EnteredEssay] = []
        for ref in refs:
            slot = slots.get(ref.essay_id)
            if slot is None:
                entered.append(
                    self._refused(ref, phase, ErrorCode.NOT_FOUND, "essay is not in this batch")
                )
                continue
            try:
                requested = transition(slot.status, PhaseEvent(phase, PhaseStep.REQUESTED))
            except IllegalTransition:
                entered.append(
                    self._refused(
                        ref,
                        phase,
                        ErrorCode.CONFLICT,
                        f"essay in state {slot.status.value!r} cannot enter {phase.value}",
                    )
                )
                continue
            entered.append(EnteredEssay(ref.essay_id, ref.text_id, requested, slot.status))
        await self._phases.enter(batch_id, phase, entered)
        PHASE_COMMANDS_TOTAL.labels(phase.value, "started").inc()
        requested_refs = [
            EssayTextRef(essay_id=essay.essay_id, text_id=essay.text_id)
            for essay in entered
            if essay.status is states.requested
        ]
        log.info(
            "phase_started",
            batch_id=str(batch_id),
            phase=phase.value,
            requested=len(requested_refs),
            refused=len(entered) - len(requested_refs),
        )
        if len(requested_refs) < len(entered):
            await self.complete_if_done(batch_id, phase)
        return requested_refs

    async def finish(
        self,
        batch_id: UUID,
        phase: PhaseName,
        essay_id: UUID,
        *,
        new_text_id: str | None = None,
        error: ErrorDetail | None = None,
        details: dict[str, Any] | None = None,
    ) -> ResultHandling:
        """One essay's result: applied if the essay waits for it in this phase, else ignored."""
        if (new_text_id is None) == (error is None):
            raise ValueError("exactly one of new_text_id and error must be given")
        current = await self._phases.lock_phase_essay(batch_id, phase, essay_id)
        if current is None:
            return self._counted(phase, batch_id, essay_id, ResultHandling.NOT_IN_PHASE)
        step = PhaseStep.SUCCEEDED if error is None else PhaseStep.FAILED
        try:
            new_status = transition(current, PhaseEvent(phase, step))
        except IllegalTransition:
            return self._counted(phase, batch_id, essay_id, ResultHandling.NOT_REQUESTED)
        await self._phases.finish_essay(
            batch_id,
            phase,
            essay_id,
            previous=current,
            status=new_status,
            new_text_id=new_text_id,
            error=error,
            details=details,
        )
        return self._counted(phase, batch_id, essay_id, ResultHandling.APPLIED)

    async def requested_essays(self, batch_id: UUID, phase: PhaseName) -> list[UUID]:
        """Essays of the phase still waiting for their result."""
        requested = PHASE_ESSAY_STATUSES[phase].requested
        return [
            essay.essay_id
            for essay in await self._phases.essays_in(batch_id, phase)
            if essay.status is requested
        ]

    async def input_text_ids(self, batch_id: UUID, phase: PhaseName) -> dict[UUID, str]:
        """Each essay of the phase and the text it entered with."""
        return {
            essay.essay_id: essay.input_text_id
            for essay in await self._phases.essays_in(batch_id, phase)
        }

    async def complete_if_done(self, batch_id: UUID, phase: PhaseName) -> bool:
        """Emit the phase's outcome if every essay of it is final, once per batch and phase.

        Under the batch row lock: of racing transactions the last to get the lock sees every
        other one's result committed, and the one that emits stamps `outcome_emitted_at`,
        which every later one sees.
        """
        if await self._essays.lock_batch(batch_id) is None:
            return False
        record = await self._phases.get_phase(batch_id, phase)
        if record is None or record.outcome_emitted_at is not None:
            return False
        states = PHASE_ESSAY_STATUSES[phase]
        members = await self._phases.essays_in(batch_id, phase)
        if not members or any(essay.status not in states.final for essay in members):
            return False
        outcome = ELSBatchPhaseOutcome(
            batch_id=batch_id,
            phase=phase,
            succeeded_essays=[
                EssayTextRef(essay_id=essay.essay_id, text_id=essay.new_text_id)
                for essay in members
                if essay.status is states.succeeded and essay.new_text_id is not None
            ],
            failed_essays=[
                FailedEssay(essay_id=essay.essay_id, error=essay.error)
                for essay in members
                if essay.status is states.failed and essay.error is not None
            ],
        )
        await self._phases.mark_outcome_emitted(batch_id, phase)
        await self._uow.publish(outcome, correlation_id=record.correlation_id)
        PHASE_OUTCOMES_TOTAL.labels(phase.value, outcome.status.value).inc()
        log.info(
            "phase_outcome_emitted",
            batch_id=str(batch_id),
            phase=phase.value,
            succeeded=len(outcome.succeeded_essays),
            failed=len(outcome.failed_essays),
        )
        return True

    def _refused(
        self, ref: EssayTextRef, phase: PhaseName, code: ErrorCode, message: str
    ) -> EnteredEssay:
        return EnteredEssay(
            essay_id=ref.essay_id,
            text_id=ref.text_id,
            status=PHASE_ESSAY_STATUSES[phase].failed,
            previous_status=None,
            error=ErrorDetail(
                code=code,
                message=message,
                service=self._config.service_name,
                operation=f"start_{phase.value}",
            ),
        )

    def ignored(
        self, phase: PhaseName, batch_id: UUID, essay_id: UUID, handling: ResultHandling
    ) -> None:
        """Count a result the handler itself found to have no essay waiting for it."""
        self._counted(phase, batch_id, essay_id, handling)

    @staticmethod
    def _counted(
        phase: PhaseName, batch_id: UUID, essay_id: UUID, handling: ResultHandling
    ) -> ResultHandling:
        PHASE_RESULTS_TOTAL.labels(phase.value, handling.value).inc()
        if handling is not ResultHandling.APPLIED:
            log.info(
                "phase_result_ignored",
                reason=handling.value,
                batch_id=str(batch_id),
                phase=phase.value,
                essay_id=str(essay_id),
            )
        return handling
