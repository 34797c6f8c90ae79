"""Fixtures for BOS's tests: a migrated database, units of work, the HTTP app, event helpers.

Every test gets its own database and its own topic prefix, so tests never see each other.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from batch_orchestrator.handlers import event_handlers
from batch_orchestrator.models import (
    batch_essays,
    batches,
    excess_uploads,
    pipeline_phases,
    pipeline_runs,
)
from batch_orchestrator.repository import BatchRecord, BatchRepository, NewBatch
from batch_orchestrator.service import DEFINITION
from batch_orchestrator.settings import BatchOrchestratorSettings
from pydantic import BaseModel
from quart.testing import QuartClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common_core.events import REGISTRY
from common_core.events.envelope import EventEnvelope
from huleedu_service_libs.database import UnitOfWork, create_engine, create_session_factory
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.outbox import OutboxWriter, outbox_table
from huleedu_service_libs.testing.services import http_test_client


@pytest.fixture
def bos_settings(
    settings_factory: Callable[..., Any], database_url: str, topic_prefix: str
) -> BatchOrchestratorSettings:
    settings: BatchOrchestratorSettings = settings_factory(
        "batch_orchestrator",
        database_url=database_url,
        settings_class=BatchOrchestratorSettings,
        kafka_topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:8]}.",
    )
    return settings


@dataclass
class Bos:
    """BOS's database as a test drives it: units of work, handlers, table snapshots."""

    settings: BatchOrchestratorSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    writer: OutboxWriter

    @property
    def phase_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.phase_timeout_s)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.writer)

    async def register(self, expected_essay_count: int = 3, **fields: Any) -> BatchRecord:
        """A batch stored as registration stores it (no HTTP), awaiting content."""
        values: dict[str, Any] = {
            "batch_id": uuid.uuid4(),
            "user_id": "teacher-1",
            "course_code": "ENG5",
            "language": "en",
            "expected_essay_count": expected_essay_count,
            "essay_instructions": "Describe a place you love.",
        }
        values.update(fields)
        batch = NewBatch(**values)
        async with self.unit_of_work() as uow:
            repository = BatchRepository(uow.session)
            await repository.create(batch, [uuid.uuid4() for _ in range(expected_essay_count)])
            record = await repository.get(batch.batch_id)
            await uow.commit()
        assert record is not None
        return record

    async def batch(self, batch_id: UUID) -> BatchRecord:
        async with self.unit_of_work() as uow:
            record = await BatchRepository(uow.session).get(batch_id)
        assert record is not None
        return record

    async def essay_ids(self, batch_id: UUID) -> list[UUID]:
        async with self.unit_of_work() as uow:
            return await BatchRepository(uow.session).essay_ids(batch_id)

    def envelope(self, data: BaseModel) -> EventEnvelope[Any]:
        """A consumed event as ELS would send it."""
        return REGISTRY.envelope(data, source_service="essay_lifecycle")

    async def deliver(self, envelope: EventEnvelope[Any], times: int = 1) -> None:
        """Run the event's handler `times` times, each in its own committed transaction.

        No inbox: this is the handler's own idempotency, what remains when every other layer
        has let a duplicate through.
        """
        handler = event_handlers(self.phase_timeout)[envelope.event_type]
        for _ in range(times):
            async with self.unit_of_work() as uow:
                await handler(envelope, uow)
                await uow.commit()

    async def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every row BOS's handlers may change, in a stable order."""
        async with self.engine.connect() as connection:
            tables = {
                "batches": select(batches).order_by(batches.c.batch_id),
                "batch_essays": select(batch_essays).order_by(
                    batch_essays.c.batch_id, batch_essays.c.slot_index
                ),
                "excess_uploads": select(excess_uploads).order_by(excess_uploads.c.file_upload_id),
                "pipeline_runs": select(pipeline_runs).order_by(pipeline_runs.c.run_id),
                "pipeline_phases": select(pipeline_phases).order_by(
                    pipeline_phases.c.run_id, pipeline_phases.c.position
                ),
                "event_outbox": select(
                    outbox_table.c.event_type, outbox_table.c.aggregate_key, outbox_table.c.payload
                ).order_by(outbox_table.c.id),
            }
            return {
                name: [dict(row) for row in (await connection.execute(query)).mappings()]
                for name, query in tables.items()
            }

    async def outbox_rows(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            result = await connection.execute(select(outbox_table).order_by(outbox_table.c.id))
            return [dict(row) for row in result.mappings()]


@pytest.fixture
async def bos(bos_settings: BatchOrchestratorSettings) -> AsyncIterator[Bos]:
    await upgrade_to_head(bos_settings.database_url, DEFINITION.migrations_path)
    engine = create_engine(bos_settings.database_url)
    writer = OutboxWriter(
        REGISTRY, TopicNamer(bos_settings.kafka_topic_prefix), bos_settings.service_name
    )
    yield Bos(
        settings=bos_settings,
        engine=engine,
        sessions=create_session_factory(engine),
        writer=writer,
    )
    await engine.dispose()


@pytest.fixture
async def client(bos: Bos) -> AsyncIterator[QuartClient]:
    """The real app on `bos`'s database (already migrated; migrating again is a no-op)."""
    async with http_test_client(DEFINITION, bos.settings) as test_client:
        yield test_client
