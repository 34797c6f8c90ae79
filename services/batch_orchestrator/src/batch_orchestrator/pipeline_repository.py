"""Queries over pipeline runs and phases, within the caller's transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from batch_orchestrator.domain.pipeline_run import PhaseState
from batch_orchestrator.models import batch_essays, pipeline_phases, pipeline_runs
from common_core.events.base import EssayTextRef, FailedEssay
from common_core.status import BatchStatus, PhaseName, PhaseStatus


@dataclass(frozen=True)
class RunRecord:
    run_id: UUID
    batch_id: UUID
    requested_pipeline: PhaseName
    status: BatchStatus
    correlation_id: UUID


@dataclass(frozen=True)
class OverduePhase:
    run_id: UUID
    batch_id: UUID
    phase: PhaseName


def _run(row: Any) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        batch_id=row["batch_id"],
        requested_pipeline=row["requested_pipeline"],
        status=row["status"],
        correlation_id=row["correlation_id"],
    )


class PipelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def run(self, run_id: UUID) -> RunRecord | None:
        row = (
            (
                await self._session.execute(
                    select(pipeline_runs).where(pipeline_runs.c.run_id == run_id)
                )
            )
            .mappings()
            .one_or_none()
        )
        return None if row is None else _run(row)

    async def running(self, batch_id: UUID) -> RunRecord | None:
        """The batch's run in progress, if any (at most one: runs start under the row lock)."""
        row = (
            (
                await self._session.execute(
                    select(pipeline_runs).where(
                        pipeline_runs.c.batch_id == batch_id,
                        pipeline_runs.c.status == BatchStatus.PROCESSING,
                    )
                )
            )
            .mappings()
            .one_or_none()
        )
        return None if row is None else _run(row)

    async def latest(self, batch_ids: Collection[UUID]) -> dict[UUID, RunRecord]:
        """Each batch's most recent run."""
        if not batch_ids:
            return {}
        rows = (
            await self._session.execute(
                select(pipeline_runs)
                .ext(distinct_on(pipeline_runs.c.batch_id))
                .where(pipeline_runs.c.batch_id.in_(list(batch_ids)))
                .order_by(
                    pipeline_runs.c.batch_id,
                    pipeline_runs.c.started_at.desc(),
                    pipeline_runs.c.run_id.desc(),
                )
            )
        ).mappings()
        return {row["batch_id"]: _run(row) for row in rows}

    async def completed_phases(self, batch_id: UUID) -> set[PhaseName]:
        """Phases some earlier run of the batch finished with survivors."""
        result = await self._session.execute(
            select(pipeline_phases.c.phase)
            .join(pipeline_runs, pipeline_runs.c.run_id == pipeline_phases.c.run_id)
            .where(
                pipeline_runs.c.batch_id == batch_id,
                pipeline_phases.c.status.in_(
                    [PhaseStatus.COMPLETED, PhaseStatus.COMPLETED_WITH_FAILURES]
                ),
            )
        )
        return set(result.scalars())

    async def create_run(
        self,
        run: RunRecord,
        phases: Sequence[tuple[PhaseName, PhaseStatus]],
    ) -> None:
        await self._session.execute(
            insert(pipeline_runs).values(
                run_id=run.run_id,
                batch_id=run.batch_id,
                requested_pipeline=run.requested_pipeline,
                status=run.status,
                correlation_id=run.correlation_id,
            )
        )
        await self._session.execute(
            insert(pipeline_phases),
            [
                {"run_id": run.run_id, "phase": phase, "position": position, "status": status}
                for position, (phase, status) in enumerate(phases)
            ],
        )

    async def phases(self, run_id: UUID) -> list[PhaseState]:
        """The run's phases in execution order."""
        rows = (
            await self._session.execute(
                select(pipeline_phases)
                .where(pipeline_phases.c.run_id == run_id)
                .order_by(pipeline_phases.c.position)
            )
        ).mappings()
        return [
            PhaseState(
                phase=row["phase"],
                status=row["status"],
                succeeded_count=row["succeeded_count"],
                failed_count=row["failed_count"],
                failure_reason=row["failure_reason"],
            )
            for row in rows
        ]

    async def phases_of_runs(self, run_ids: Collection[UUID]) -> dict[UUID, list[PhaseState]]:
        """Each run's phases in execution order."""
        found: dict[UUID, list[PhaseState]] = {run_id: [] for run_id in run_ids}
        if not found:
            return found
        rows = (
            await self._session.execute(
                select(pipeline_phases)
                .where(pipeline_phases.c.run_id.in_(list(found)))
                .order_by(pipeline_phases.c.run_id, pipeline_phases.c.position)
            )
        ).mappings()
        for row in rows:
            found[row["run_id"]].append(
                PhaseState(
                    phase=row["phase"],
                    status=row["status"],
                    succeeded_count=row["succeeded_count"],
                    failed_count=row["failed_count"],
                    failure_reason=row["failure_reason"],
                )
            )
        return found

    async def phase_essay_count(self, run_id: UUID, phase: PhaseName) -> int:
        count = await self._session.execute(
            select(pipeline_phases.c.essay_count).where(
                pipeline_phases.c.run_id == run_id, pipeline_phases.c.phase == phase
            )
        )
        return int(count.scalar_one())

    async def mark_dispatched(
        self, run_id: UUID, phase: PhaseName, *, essay_count: int, phase_timeout: timedelta
    ) -> None:
        """Dispatched now (the database's clock), due by now + timeout."""
        await self._session.execute(
            update(pipeline_phases)
            .where(pipeline_phases.c.run_id == run_id, pipeline_phases.c.phase == phase)
            .values(
                status=PhaseStatus.DISPATCHED,
                essay_count=essay_count,
                dispatched_at=func.now(),
                deadline_at=func.now() + phase_timeout,
            )
        )

    async def record_phase_end(self, run_id: UUID, state: PhaseState) -> float | None:
        """Store the phase's end; returns seconds from its dispatch to now (database clock)."""
        elapsed = await self._session.execute(
            update(pipeline_phases)
            .where(pipeline_phases.c.run_id == run_id, pipeline_phases.c.phase == state.phase)
            .values(
                status=state.status,
                succeeded_count=state.succeeded_count,
                failed_count=state.failed_count,
                failure_reason=state.failure_reason,
                completed_at=func.now(),
            )
            .returning(
                func.extract("epoch", func.now() - pipeline_phases.c.dispatched_at),
            )
        )
        seconds = elapsed.scalar_one_or_none()
        return None if seconds is None else max(0.0, float(seconds))

    async def finish_run(self, run_id: UUID, status: BatchStatus) -> None:
        await self._session.execute(
            update(pipeline_runs)
            .where(pipeline_runs.c.run_id == run_id)
            .values(status=status, completed_at=func.now())
        )

    async def overdue_phases(self, limit: int = 100) -> list[OverduePhase]:
        """Dispatched phases whose deadline has passed (by the database's clock)."""
        rows = (
            await self._session.execute(
                select(pipeline_phases.c.run_id, pipeline_runs.c.batch_id, pipeline_phases.c.phase)
                .join(pipeline_runs, pipeline_runs.c.run_id == pipeline_phases.c.run_id)
                .where(
                    pipeline_phases.c.status == PhaseStatus.DISPATCHED,
                    pipeline_phases.c.deadline_at < func.now(),
                )
                .order_by(pipeline_phases.c.deadline_at)
                .limit(limit)
            )
        ).mappings()
        return [OverduePhase(row["run_id"], row["batch_id"], row["phase"]) for row in rows]

    async def is_overdue(self, run_id: UUID, phase: PhaseName) -> bool:
        found = await self._session.execute(
            select(pipeline_phases.c.run_id).where(
                pipeline_phases.c.run_id == run_id,
                pipeline_phases.c.phase == phase,
                pipeline_phases.c.status == PhaseStatus.DISPATCHED,
                pipeline_phases.c.deadline_at < func.now(),
            )
        )
        return found.first() is not None

    async def usable_essays(self, batch_id: UUID) -> list[EssayTextRef]:
        """The batch's essays with a text and no failure, in slot order."""
        rows = await self._session.execute(
            select(batch_essays.c.essay_id, batch_essays.c.text_id)
            .where(
                batch_essays.c.batch_id == batch_id,
                batch_essays.c.text_id.is_not(None),
                batch_essays.c.failure.is_(None),
            )
            .order_by(batch_essays.c.slot_index)
        )
        return [EssayTextRef(essay_id=row.essay_id, text_id=row.text_id) for row in rows]

    async def record_phase_essays(
        self,
        batch_id: UUID,
        phase: PhaseName,
        succeeded: Sequence[EssayTextRef],
        failed: Sequence[FailedEssay],
    ) -> None:
        """Survivors' new texts; failed essays' reasons and the phase they failed in."""
        if succeeded:
            await self._session.execute(
                update(batch_essays)
                .where(
                    batch_essays.c.batch_id == batch_id,
                    batch_essays.c.essay_id == bindparam("b_essay_id"),
                )
                .values(text_id=bindparam("b_text_id")),
                [{"b_essay_id": e.essay_id, "b_text_id": e.text_id} for e in succeeded],
            )
        if failed:
            await self._session.execute(
                update(batch_essays)
                .where(
                    batch_essays.c.batch_id == batch_id,
                    batch_essays.c.essay_id == bindparam("b_essay_id"),
                )
                .values(failure=bindparam("b_failure"), failed_phase=phase),
                [
                    {"b_essay_id": e.essay_id, "b_failure": e.error.model_dump(mode="json")}
                    for e in failed
                ],
            )
