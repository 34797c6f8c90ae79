"""spellchecker test fixtures: the real content_service served on a free port, and the
spellchecker's handler on a migrated database of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from content_service.service import DEFINITION as CONTENT_DEFINITION
from content_service.settings import ContentSettings
from spellchecker.domain.dictionary import english_spellchecker
from spellchecker.models import spellcheck_jobs
from spellchecker.service import DEFINITION, spellcheck_handlers
from spellchecker.settings import SpellcheckerSettings
from sqlalchemy import pool, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as raw_engine

from common_core.events import REGISTRY
from common_core.events.envelope import EventEnvelope
from common_core.events.spellcheck import EssaySpellcheckRequested
from huleedu_service_libs.content_client import ContentClient
from huleedu_service_libs.database import UnitOfWork, create_engine, create_session_factory
from huleedu_service_libs.kafka.consumer import Handler
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.outbox.table import outbox_table
from huleedu_service_libs.outbox.writer import OutboxWriter
from huleedu_service_libs.testing.services import closed_port_url, serve_service


@pytest.fixture(name="closed_port_url")
def closed_port_url_fixture() -> str:
    return closed_port_url()


@pytest.fixture(scope="module")
async def content_service_url(
    database_factory: Callable[[str], Any], settings_factory: Callable[..., Any]
) -> AsyncIterator[str]:
    database_url = await database_factory(f"sc_content_{uuid.uuid4().hex[:8]}")
    settings = settings_factory(
        "content_service", database_url=database_url, settings_class=ContentSettings
    )
    async with serve_service(CONTENT_DEFINITION, settings) as url:
        yield url


@dataclass
class SpellcheckerUnderTest:
    """The spellchecker's handler wired as its worker wires it, plus readers of its state."""

    settings: SpellcheckerSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    outbox: OutboxWriter
    handlers: dict[str, Handler]
    content_url: str

    async def deliver(self, envelope: EventEnvelope[Any]) -> None:
        async with UnitOfWork(self.sessions, self.outbox) as uow:
            await self.handlers[envelope.event_type](envelope, uow)
            await uow.commit()

    async def jobs(self) -> list[dict[str, Any]]:
        return await self._rows(select(spellcheck_jobs))

    async def outbox_rows(self) -> list[dict[str, Any]]:
        return await self._rows(select(outbox_table).order_by(outbox_table.c.id))

    async def _rows(self, query: Any) -> list[dict[str, Any]]:
        engine = raw_engine(self.settings.database_url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as connection:
                return [dict(row._mapping) for row in await connection.execute(query)]
        finally:
            await engine.dispose()

    async def store(self, text: str) -> str:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{self.content_url}/v1/content",
                content=text.encode(),
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        assert response.status_code == 201, response.text
        return str(response.json()["content_id"])

    async def fetch(self, content_id: str) -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.get(f"{self.content_url}/v1/content/{content_id}")


def request_for(text_id: str, language: str = "en") -> EventEnvelope[Any]:
    return REGISTRY.envelope(
        EssaySpellcheckRequested(
            batch_id=uuid.uuid4(), essay_id=uuid.uuid4(), text_id=text_id, language=language
        ),
        source_service="essay_lifecycle",
    )


@pytest.fixture
def spellcheck_request() -> Callable[..., EventEnvelope[Any]]:
    return request_for


@pytest.fixture
async def spellchecker_factory(
    database_url: str,
    settings_factory: Callable[..., Any],
    topic_prefix: str,
    content_service_url: str,
) -> Callable[..., Any]:
    """`async with spellchecker_factory(content_url=...)` → a SpellcheckerUnderTest."""
    await upgrade_to_head(database_url, DEFINITION.migrations_path)

    @asynccontextmanager
    async def make(content_url: str = content_service_url) -> AsyncIterator[SpellcheckerUnderTest]:
        settings: SpellcheckerSettings = settings_factory(
            "spellchecker",
            database_url=database_url,
            settings_class=SpellcheckerSettings,
            content_service_url=content_url,
            kafka_topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:8]}.",
        )
        engine = create_engine(settings.database_url)
        async with httpx.AsyncClient(timeout=10) as http:
            try:
                yield SpellcheckerUnderTest(
                    settings=settings,
                    engine=engine,
                    sessions=create_session_factory(engine),
                    outbox=OutboxWriter(
                        REGISTRY, TopicNamer(settings.kafka_topic_prefix), "spellchecker"
                    ),
                    handlers=dict(
                        spellcheck_handlers(
                            english_spellchecker(), ContentClient(http, content_url)
                        )
                    ),
                    content_url=content_service_url,
                )
            finally:
                await engine.dispose()

    return make
