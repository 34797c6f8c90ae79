"""Running the services file_service talks to, for its integration tests.

file_service calls content_service and batch_orchestrator over HTTP, so the tests serve their
real apps with hypercorn on free local ports (each on its own database) and serve file_service
the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from batch_orchestrator.handlers import event_handlers
from batch_orchestrator.settings import BatchOrchestratorSettings
from file_service.models import uploads
from file_service.settings import FileSettings
from pydantic import BaseModel
from sqlalchemy import pool, select
from sqlalchemy.ext.asyncio import create_async_engine

from common_core.events import REGISTRY
from common_core.events.envelope import EventEnvelope
from huleedu_service_libs.database import UnitOfWork, create_engine, create_session_factory
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.outbox import OutboxWriter, outbox_table

TEACHER = "teacher-1"


@dataclass
class BatchOrchestrator:
    """The real BOS: registration over its HTTP API, status changes through its handlers."""

    url: str
    settings: BatchOrchestratorSettings

    async def register(self, user_id: str = TEACHER, expected_essay_count: int = 3) -> UUID:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{self.url}/v1/batches",
                json={
                    "user_id": user_id,
                    "expected_essay_count": expected_essay_count,
                    "course_code": "SV1",
                },
            )
        assert response.status_code == 202, response.text
        return UUID(response.json()["batch_id"])

    async def deliver(self, data: BaseModel) -> None:
        """Hand an event to BOS's handler as its consumer loop would."""
        envelope: EventEnvelope[Any] = REGISTRY.envelope(data, source_service="essay_lifecycle")
        engine = create_engine(self.settings.database_url)
        writer = OutboxWriter(
            REGISTRY, TopicNamer(self.settings.kafka_topic_prefix), "batch_orchestrator"
        )
        try:
            async with UnitOfWork(create_session_factory(engine), writer) as uow:
                await event_handlers()[envelope.event_type](envelope, uow)
                await uow.commit()
        finally:
            await engine.dispose()

    async def status(self, batch_id: UUID) -> str:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{self.url}/v1/batches/{batch_id}")
        return str(response.json()["status"])


@dataclass
class FileService:
    url: str
    settings: FileSettings

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=60)

    async def uploads(self) -> list[dict[str, Any]]:
        return await self._rows(select(uploads).order_by(uploads.c.created_at))

    async def outbox(self) -> list[dict[str, Any]]:
        return await self._rows(select(outbox_table).order_by(outbox_table.c.id))

    async def _rows(self, query: Any) -> list[dict[str, Any]]:
        engine = create_async_engine(self.settings.database_url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as connection:
                return [dict(row._mapping) for row in await connection.execute(query)]
        finally:
            await engine.dispose()


FileServiceFactory = Callable[..., Any]
