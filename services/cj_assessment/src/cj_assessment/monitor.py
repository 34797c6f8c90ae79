"""The batch-deadline monitor: a CJ batch still open past its deadline ends (every batch ends).

Runs as a background task of the worker. Each overdue batch is ended in its own transaction
under its row lock, after checking again that it is still open and overdue, so a result
closing the batch at the same moment and the monitor decide one after the other. It ends with
the judgements it has when they connect every essay, and fails with the reason otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from dishka import AsyncContainer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.contextvars import bound_contextvars

from cj_assessment.assessment import AssessmentConfig, end_overdue_batch
from cj_assessment.repository import CJRepository
from cj_assessment.settings import CJAssessmentSettings
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger
from huleedu_service_libs.outbox import OutboxWriter

_log = get_logger(__name__)


async def end_overdue_batches(
    unit_of_work: Callable[[], UnitOfWork], config: AssessmentConfig
) -> int:
    """End every open batch past its deadline; returns how many this call ended."""
    async with unit_of_work() as uow:
        overdue = await CJRepository(uow.session).overdue_batch_ids()
    ended = 0
    for batch_id in overdue:
        with bound_contextvars(batch_id=str(batch_id)):
            async with unit_of_work() as uow:
                if await end_overdue_batch(uow, batch_id, config):
                    await uow.commit()
                    ended += 1
                    _log.warning("cj_batch_deadline_reached")
    return ended


async def batch_deadline_monitor(container: AsyncContainer, stop: asyncio.Event) -> None:
    """The worker's background task: look for overdue batches every interval until stopped."""
    settings = await container.get(CJAssessmentSettings)
    sessions = await container.get(async_sessionmaker[AsyncSession])
    writer = await container.get(OutboxWriter)
    config = AssessmentConfig.from_settings(settings)
    while not stop.is_set():
        try:
            await end_overdue_batches(lambda: UnitOfWork(sessions, writer), config)
        except Exception:
            _log.exception("cj_monitor_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.monitor_interval_s)
