"""ELS on a migrated database of its own per test: run handlers, build events, read state."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

import pytest
from essay_lifecycle.content_intake import IntakeConfig
from essay_lifecycle.handlers.batch_essays_registered import handle_batch_essays_registered
from essay_lifecycle.handlers.essay_content_provisioned import handle_essay_content_provisioned
from essay_lifecycle.handlers.essay_validation_failed import handle_essay_validation_failed
from essay_lifecycle.handlers.phase_commands import (
    handle_batch_cj_assessment_initiate,
    handle_batch_spellcheck_initiate,
)
from essay_lifecycle.handlers.phase_results import (
    handle_cj_assessment_completed,
    handle_cj_assessment_failed,
    handle_spellcheck_result,
)
from essay_lifecycle.models import batches, essays, excess_content, pending_content
from essay_lifecycle.phase_tracking import PhaseConfig
from essay_lifecycle.service import DEFINITION, intake_config
from essay_lifecycle.settings import EssayLifecycleSettings
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from common_core.errors import ErrorCode
from common_core.events import REGISTRY
from common_core.events.batch import BatchEssaysRegistered
from common_core.events.cj import CJAssessmentCompleted, CJAssessmentFailed
from common_core.events.envelope import EventEnvelope
from common_core.events.essay import (
    EssayContentProvisioned,
    EssayValidationFailed,
    FileFormat,
)
from common_core.events.pipeline import (
    BatchCJAssessmentInitiateCommand,
    BatchSpellcheckInitiateCommand,
)
from common_core.events.spellcheck import SpellcheckResult
from huleedu_service_libs.database import UnitOfWork, create_engine, create_session_factory
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.outbox.table import outbox_table
from huleedu_service_libs.outbox.writer import OutboxWriter

HANDLERS: dict[type[BaseModel], Any] = {
    BatchEssaysRegistered: handle_batch_essays_registered,
    EssayContentProvisioned: handle_essay_content_provisioned,
    EssayValidationFailed: handle_essay_validation_failed,
}
PHASE_HANDLERS: dict[type[BaseModel], Any] = {
    BatchSpellcheckInitiateCommand: handle_batch_spellcheck_initiate,
    SpellcheckResult: handle_spellcheck_result,
    BatchCJAssessmentInitiateCommand: handle_batch_cj_assessment_initiate,
    CJAssessmentCompleted: handle_cj_assessment_completed,
    CJAssessmentFailed: handle_cj_assessment_failed,
}

ESSAY_TEXT = "A student's essay about the sea, long enough to pass every validation rule."


def text_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def registered(slots: int = 3, batch_id: UUID | None = None) -> EventEnvelope[Any]:
    return REGISTRY.envelope(
        BatchEssaysRegistered(
            batch_id=batch_id or uuid.uuid4(),
            user_id="teacher-1",
            expected_essay_count=slots,
            essay_ids=[uuid.uuid4() for _ in range(slots)],
            course_code="ENG5",
            language="en",
            essay_instructions="Write about the sea.",
        ),
        source_service="batch_orchestrator",
    )


def content(
    batch_id: UUID,
    *,
    name: str | None = None,
    text: str = ESSAY_TEXT,
    upload_id: UUID | None = None,
) -> EventEnvelope[Any]:
    upload_id = upload_id or uuid.uuid4()
    return REGISTRY.envelope(
        EssayContentProvisioned(
            batch_id=batch_id,
            file_upload_id=upload_id,
            original_file_name=name or f"{upload_id.hex[:8]}.txt",
            file_format=FileFormat.TXT,
            raw_file_id=text_id(text + " (raw)"),
            text_id=text_id(text),
            character_count=len(text),
        ),
        source_service="file_service",
    )


def failure(
    batch_id: UUID,
    *,
    name: str = "broken.docx",
    reason: ErrorCode = ErrorCode.CORRUPTED_FILE,
    message: str = "the document could not be opened",
    upload_id: UUID | None = None,
) -> EventEnvelope[Any]:
    return REGISTRY.envelope(
        EssayValidationFailed(
            batch_id=batch_id,
            file_upload_id=upload_id or uuid.uuid4(),
            original_file_name=name,
            file_format=FileFormat.DOCX,
            reason=reason,
            message=message,
        ),
        source_service="file_service",
    )


class Els:
    """The service's handlers on a migrated database, and what they left behind."""

    registered = staticmethod(registered)
    content = staticmethod(content)
    failure = staticmethod(failure)

    def __init__(self, settings: EssayLifecycleSettings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = create_session_factory(engine)
        self.outbox = OutboxWriter(
            REGISTRY, TopicNamer(settings.kafka_topic_prefix), settings.service_name
        )
        self.config = intake_config(settings)
        self.phase_config = PhaseConfig(service_name=settings.service_name)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.outbox)

    async def apply(
        self, envelope: EventEnvelope[Any], uow: UnitOfWork, config: IntakeConfig | None = None
    ) -> None:
        """The event's handler inside the caller's UnitOfWork (not committed)."""
        phase_handler = PHASE_HANDLERS.get(type(envelope.data))
        if phase_handler is not None:
            await phase_handler(envelope, uow, self.phase_config)
            return
        await HANDLERS[type(envelope.data)](envelope, uow, config or self.config)

    async def handle(
        self, envelope: EventEnvelope[Any], config: IntakeConfig | None = None
    ) -> None:
        """One consumed event: its handler in a UnitOfWork of its own, committed."""
        async with self.uow() as uow:
            await self.apply(envelope, uow, config)
            await uow.commit()

    async def rows(self, statement: Any) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return [dict(row) for row in (await conn.execute(statement)).mappings()]

    async def scalar(self, statement: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(statement)).scalar_one()

    async def slots(self, batch_id: UUID) -> list[dict[str, Any]]:
        return await self.rows(
            select(essays).where(essays.c.batch_id == batch_id).order_by(essays.c.slot_index)
        )

    async def excess(self, batch_id: UUID) -> list[dict[str, Any]]:
        return await self.rows(
            select(excess_content)
            .where(excess_content.c.batch_id == batch_id)
            .order_by(excess_content.c.arrival)
        )

    async def pending(self, batch_id: UUID) -> list[dict[str, Any]]:
        return await self.rows(
            select(pending_content).where(pending_content.c.batch_id == batch_id)
        )

    async def batch(self, batch_id: UUID) -> dict[str, Any] | None:
        found = await self.rows(select(batches).where(batches.c.batch_id == batch_id))
        return found[0] if found else None

    async def events(self, model: type[BaseModel] | None = None) -> list[dict[str, Any]]:
        """Payloads (`data`) of outbox rows in id order, optionally of one event type."""
        statement = select(outbox_table.c.payload).order_by(outbox_table.c.id)
        if model is not None:
            event_type = REGISTRY.spec_for_model(model).event_type
            statement = statement.where(outbox_table.c.event_type == event_type)
        return [row["payload"]["data"] for row in await self.rows(statement)]

    async def event_types(self) -> list[str]:
        rows = await self.rows(select(outbox_table.c.event_type).order_by(outbox_table.c.id))
        return [row["event_type"] for row in rows]


@pytest.fixture
def els_settings(settings_factory, database_url: str, topic_prefix: str) -> EssayLifecycleSettings:
    settings: EssayLifecycleSettings = settings_factory(
        "essay_lifecycle",
        database_url=database_url,
        settings_class=EssayLifecycleSettings,
        kafka_topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:8]}.",
    )
    return settings


@pytest.fixture
async def els_factory(
    els_settings: EssayLifecycleSettings, database_factory
) -> AsyncIterator[Callable[[], Awaitable[Els]]]:
    """`await els_factory()` → ELS on another fresh, migrated database (same topics)."""
    engines: list[AsyncEngine] = []

    async def make(database_url: str | None = None) -> Els:
        if database_url is None:
            database_url = await database_factory(f"els_{uuid.uuid4().hex[:12]}")
        settings = els_settings.model_copy(update={"database_url": database_url})
        await upgrade_to_head(database_url, DEFINITION.migrations_path)
        engine = create_engine(database_url, pool_size=30)
        engines.append(engine)
        return Els(settings, engine)

    try:
        yield make
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.fixture
async def els(els_factory, els_settings: EssayLifecycleSettings) -> Els:
    els: Els = await els_factory(els_settings.database_url)
    return els
