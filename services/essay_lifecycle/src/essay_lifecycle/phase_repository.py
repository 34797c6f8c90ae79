"""ELS phase queries over one session: which essays entered a batch's phase, and how they ended.

Callers take the batch row lock (`EssayRepository.lock_batch`) before starting a phase or
deciding that it is complete; a single essay's result locks only that essay's phase row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from common_core.errors import ErrorDetail
from common_core.status import EssayStatus, PhaseName
from essay_lifecycle.models import batch_phases, essays, phase_essays


@dataclass(frozen=True)
class PhaseRecord:
    batch_id: UUID
    phase: PhaseName
    correlation_id: UUID
    started_at: datetime
    outcome_emitted_at: datetime | None


@dataclass(frozen=True)
class PhaseEssay:
    """One essay's place in one phase, as recorded."""

    essay_id: UUID
    phase: PhaseName
    status: EssayStatus
    input_text_id: str
    new_text_id: str | None
    error: ErrorDetail | None
    started_at: datetime
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class EnteredEssay:
    """An essay entering a phase; `error` set if it cannot (it enters already failed)."""

    essay_id: UUID
    text_id: str
    status: EssayStatus
    previous_status: EssayStatus | None
    error: ErrorDetail | None = None


class PhaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert_phase(self, batch_id: UUID, phase: PhaseName, correlation_id: UUID) -> bool:
        """Record that the phase started; False if it had started before (nothing changes)."""
        statement = (
            pg_insert(batch_phases)
            .values(batch_id=batch_id, phase=phase, correlation_id=correlation_id)
            .on_conflict_do_nothing(index_elements=[batch_phases.c.batch_id, batch_phases.c.phase])
            .returning(batch_phases.c.batch_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def get_phase(self, batch_id: UUID, phase: PhaseName) -> PhaseRecord | None:
        statement = select(
            batch_phases.c.batch_id,
            batch_phases.c.phase,
            batch_phases.c.correlation_id,
            batch_phases.c.started_at,
            batch_phases.c.outcome_emitted_at,
        ).where(batch_phases.c.batch_id == batch_id, batch_phases.c.phase == phase)
        row = (await self._session.execute(statement)).mappings().one_or_none()
        return None if row is None else PhaseRecord(**row)

    async def enter(
        self, batch_id: UUID, phase: PhaseName, entered: Sequence[EnteredEssay]
    ) -> None:
        """Add the essays to the phase, in the command's order, and move the slots that enter."""
        await self._session.execute(
            pg_insert(phase_essays),
            [
                {
                    "batch_id": batch_id,
                    "phase": phase,
                    "essay_id": essay.essay_id,
                    "position": position,
                    "status": essay.status,
                    "input_text_id": essay.text_id,
                    **_failure_columns(essay.error),
                }
                for position, essay in enumerate(entered)
            ],
        )
        moved = [essay for essay in entered if essay.previous_status is not None]
        if moved:
            await self._session.execute(
                update(essays)
                .where(
                    essays.c.essay_id == bindparam("b_essay_id"),
                    essays.c.status == bindparam("b_previous"),
                )
                .values(status=bindparam("b_status"), text_id=bindparam("b_text_id"))
                .values(updated_at=func.now())
                .execution_options(synchronize_session=False),
                [
                    {
                        "b_essay_id": essay.essay_id,
                        "b_previous": essay.previous_status,
                        "b_status": essay.status,
                        "b_text_id": essay.text_id,
                    }
                    for essay in moved
                ],
            )

    async def lock_phase_essay(
        self, batch_id: UUID, phase: PhaseName, essay_id: UUID
    ) -> EssayStatus | None:
        """The essay's status in the phase under `FOR UPDATE`; None if it is not in the phase."""
        statement = (
            select(phase_essays.c.status)
            .where(
                phase_essays.c.batch_id == batch_id,
                phase_essays.c.phase == phase,
                phase_essays.c.essay_id == essay_id,
            )
            .with_for_update()
        )
        status: EssayStatus | None = (await self._session.execute(statement)).scalar_one_or_none()
        return status

    async def finish_essay(
        self,
        batch_id: UUID,
        phase: PhaseName,
        essay_id: UUID,
        *,
        previous: EssayStatus,
        status: EssayStatus,
        new_text_id: str | None,
        error: ErrorDetail | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record the essay's end in the phase; its slot follows (with its new text, if any)."""
        await self._session.execute(
            update(phase_essays)
            .where(
                phase_essays.c.batch_id == batch_id,
                phase_essays.c.phase == phase,
                phase_essays.c.essay_id == essay_id,
            )
            .values(
                status=status,
                new_text_id=new_text_id,
                details=details,
                updated_at=func.now(),
                **_failure_columns(error),
            )
        )
        slot_values: dict[str, Any] = {"status": status, "updated_at": func.now()}
        if new_text_id is not None:
            slot_values["text_id"] = new_text_id
        await self._session.execute(
            update(essays)
            .where(essays.c.essay_id == essay_id, essays.c.status == previous)
            .values(**slot_values)
        )

    async def essays_in(self, batch_id: UUID, phase: PhaseName) -> list[PhaseEssay]:
        """The phase's essays in the command's order."""
        return await self._phase_essays(
            and_(phase_essays.c.batch_id == batch_id, phase_essays.c.phase == phase)
        )

    async def phases_of_batch(self, batch_id: UUID) -> list[PhaseEssay]:
        """Every essay's record in every phase of the batch, phases in the order they started."""
        return await self._phase_essays(phase_essays.c.batch_id == batch_id)

    async def _phase_essays(self, condition: Any) -> list[PhaseEssay]:
        statement = (
            select(
                phase_essays.c.essay_id,
                phase_essays.c.phase,
                phase_essays.c.status,
                phase_essays.c.input_text_id,
                phase_essays.c.new_text_id,
                phase_essays.c.error,
                phase_essays.c.details,
                batch_phases.c.started_at,
            )
            .join(
                batch_phases,
                and_(
                    batch_phases.c.batch_id == phase_essays.c.batch_id,
                    batch_phases.c.phase == phase_essays.c.phase,
                ),
            )
            .where(condition)
            .order_by(batch_phases.c.started_at, phase_essays.c.position)
        )
        rows = (await self._session.execute(statement)).mappings().all()
        return [
            PhaseEssay(
                essay_id=row["essay_id"],
                phase=row["phase"],
                status=row["status"],
                input_text_id=row["input_text_id"],
                new_text_id=row["new_text_id"],
                error=None if row["error"] is None else ErrorDetail.model_validate(row["error"]),
                started_at=row["started_at"],
                details=row["details"],
            )
            for row in rows
        ]

    async def mark_outcome_emitted(self, batch_id: UUID, phase: PhaseName) -> None:
        await self._session.execute(
            update(batch_phases)
            .where(batch_phases.c.batch_id == batch_id, batch_phases.c.phase == phase)
            .values(outcome_emitted_at=func.now())
        )


def _failure_columns(error: ErrorDetail | None) -> dict[str, Any]:
    if error is None:
        return {"failure_code": None, "failure_message": None, "error": None}
    return {
        "failure_code": error.code.value,
        "failure_message": error.message,
        "error": error.model_dump(mode="json"),
    }
