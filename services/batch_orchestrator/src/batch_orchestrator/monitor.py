"""The phase-deadline monitor: a phase with no outcome by its deadline fails (every batch ends).

Runs as a background task of the worker. Each overdue phase is failed in its own transaction
under the batch's row lock, after checking again that it is still dispatched and overdue, so
an outcome arriving at the same moment and the monitor decide one after the other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

from dishka import AsyncContainer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.contextvars import bound_contextvars

from batch_orchestrator.domain.pipeline_run import PHASE_TIMEOUT_REASON
from batch_orchestrator.metrics import PHASE_TIMEOUTS
from batch_orchestrator.pipeline_execution import end_phase
from batch_orchestrator.pipeline_repository import OverduePhase, PipelineRepository
from batch_orchestrator.repository import BatchRepository
from batch_orchestrator.settings import BatchOrchestratorSettings
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger
from huleedu_service_libs.outbox import OutboxWriter

_log = get_logger(__name__)


async def fail_overdue_phases(
    unit_of_work: Callable[[], UnitOfWork], *, phase_timeout: timedelta
) -> int:
    """Fail every phase past its deadline with PHASE_TIMEOUT; returns how many it failed."""
    async with unit_of_work() as uow:
        overdue = await PipelineRepository(uow.session).overdue_phases()
    failed = 0
    for candidate in overdue:
        with bound_contextvars(batch_id=str(candidate.batch_id), run_id=str(candidate.run_id)):
            failed += await _fail_if_still_overdue(unit_of_work, candidate, phase_timeout)
    return failed


async def _fail_if_still_overdue(
    unit_of_work: Callable[[], UnitOfWork], candidate: OverduePhase, phase_timeout: timedelta
) -> int:
    """1 if this call failed the phase, 0 if an outcome or another monitor got there first."""
    async with unit_of_work() as uow:
        pipelines = PipelineRepository(uow.session)
        if await BatchRepository(uow.session).lock(candidate.batch_id) is None:
            return 0
        run = await pipelines.run(candidate.run_id)
        if run is None or not await pipelines.is_overdue(candidate.run_id, candidate.phase):
            return 0
        with bound_contextvars(correlation_id=str(run.correlation_id)):
            essay_count = await pipelines.phase_essay_count(candidate.run_id, candidate.phase)
            if not await end_phase(
                uow,
                run,
                candidate.phase,
                [],
                failed_count=essay_count,
                failure_reason=PHASE_TIMEOUT_REASON,
                phase_timeout=phase_timeout,
            ):
                return 0
            await uow.commit()
            PHASE_TIMEOUTS.labels(candidate.phase.value).inc()
            _log.warning("phase_timed_out", phase=candidate.phase.value)
            return 1


async def phase_deadline_monitor(container: AsyncContainer, stop: asyncio.Event) -> None:
    """The worker's background task: look for overdue phases every interval until stopped."""
    settings = await container.get(BatchOrchestratorSettings)
    sessions = await container.get(async_sessionmaker[AsyncSession])
    writer = await container.get(OutboxWriter)
    phase_timeout = timedelta(seconds=settings.phase_timeout_s)
    while not stop.is_set():
        try:
            await fail_overdue_phases(
                lambda: UnitOfWork(sessions, writer), phase_timeout=phase_timeout
            )
        except Exception:
            _log.exception("phase_monitor_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.phase_monitor_interval_s)
