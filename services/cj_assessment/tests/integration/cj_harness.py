"""cj_assessment's handlers on a migrated database of their own, and a scripted judge.

The judge answers the comparison requests the service wrote to its outbox, as the LLM
provider would, from a hidden quality per essay: the better essay always wins unless told
otherwise, so the expected ranking is known exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cj_assessment.assessment import AssessmentConfig
from cj_assessment.handlers import event_handlers
from cj_assessment.models import cj_batches, cj_comparisons, cj_items
from cj_assessment.settings import CJAssessmentSettings
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events import REGISTRY
from common_core.events.base import EssayTextRef
from common_core.events.cj import CJAssessmentRequested
from common_core.events.envelope import EventEnvelope
from common_core.events.llm import ComparisonWinner, LLMComparisonRequest, LLMComparisonResult
from huleedu_service_libs.database import UnitOfWork, create_session_factory
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.outbox.table import outbox_table
from huleedu_service_libs.outbox.writer import OutboxWriter


def text_id(n: int) -> str:
    return f"{n:064x}"


def request_event(
    essays: int = 4, *, assignment_id: str | None = None, batch_id: UUID | None = None
) -> EventEnvelope[Any]:
    return REGISTRY.envelope(
        CJAssessmentRequested(
            batch_id=batch_id or uuid.uuid4(),
            essays=[
                EssayTextRef(essay_id=uuid.uuid4(), text_id=text_id(i + 1)) for i in range(essays)
            ],
            course_code="ENG5",
            language="en",
            essay_instructions="Write about the sea.",
            assignment_id=assignment_id,
        ),
        source_service="essay_lifecycle",
    )


def result_event(
    request: dict[str, Any],
    *,
    winner: ComparisonWinner | None = ComparisonWinner.ESSAY_A,
    error: ErrorCode | None = None,
    request_id: UUID | None = None,
) -> EventEnvelope[Any]:
    return REGISTRY.envelope(
        LLMComparisonResult(
            request_id=request_id or UUID(request["request_id"]),
            batch_id=UUID(request["batch_id"]),
            essay_a_id=UUID(request["essay_a_id"]),
            essay_b_id=UUID(request["essay_b_id"]),
            winner=None if error is not None else winner,
            error=(
                None
                if error is None
                else ErrorDetail(code=error, message="provider failed", service="llm_provider")
            ),
            provider="scripted",
            model="judge-1",
        ),
        source_service="llm_provider",
    )


@dataclass
class Cj:
    settings: CJAssessmentSettings
    engine: AsyncEngine
    config: AssessmentConfig = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = create_session_factory(self.engine)
        self.outbox = OutboxWriter(
            REGISTRY, TopicNamer(self.settings.kafka_topic_prefix), self.settings.service_name
        )
        self.config = AssessmentConfig.from_settings(self.settings)
        self.handlers = event_handlers(self.config)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.outbox)

    async def handle(self, envelope: EventEnvelope[Any]) -> None:
        """One delivery: the event's handler in a UnitOfWork of its own, committed."""
        async with self.uow() as uow:
            await self.handlers[envelope.event_type](envelope, uow)
            await uow.commit()

    async def rows(self, statement: Any) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return [dict(row) for row in (await conn.execute(statement)).mappings()]

    async def events(self, model: type[BaseModel] | None = None) -> list[dict[str, Any]]:
        """Payloads (`data`) of outbox rows in id order, optionally of one event type."""
        statement = select(outbox_table.c.payload).order_by(outbox_table.c.id)
        if model is not None:
            statement = statement.where(
                outbox_table.c.event_type == REGISTRY.spec_for_model(model).event_type
            )
        return [row["payload"]["data"] for row in await self.rows(statement)]

    async def outbox_count(self) -> int:
        return len(await self.events())

    async def batch(self, batch_id: UUID) -> dict[str, Any]:
        found = await self.rows(select(cj_batches).where(cj_batches.c.batch_id == batch_id))
        return found[0]

    async def items(self, batch_id: UUID) -> list[dict[str, Any]]:
        return await self.rows(
            select(cj_items).where(cj_items.c.batch_id == batch_id).order_by(cj_items.c.item_index)
        )

    async def comparisons(self, batch_id: UUID) -> list[dict[str, Any]]:
        return await self.rows(
            select(cj_comparisons)
            .where(cj_comparisons.c.batch_id == batch_id)
            .order_by(cj_comparisons.c.requested_at, cj_comparisons.c.request_id)
        )

    async def open_requests(self, batch_id: UUID) -> list[dict[str, Any]]:
        """Requests in the outbox still awaiting a result, oldest first."""
        open_ids = {
            str(row["request_id"])
            for row in await self.comparisons(batch_id)
            if row["state"].value == "requested"
        }
        return [
            request
            for request in await self.events(LLMComparisonRequest)
            if request["request_id"] in open_ids
        ]

    async def judge_until_done(
        self,
        batch_id: UUID,
        quality: Callable[[UUID], float],
        *,
        max_rounds: int = 200,
    ) -> int:
        """Answer every open request (better quality wins) until none is left; rounds used."""
        for rounds in range(max_rounds):
            requests = await self.open_requests(batch_id)
            if not requests:
                return rounds
            for request in requests:
                a_wins = quality(UUID(request["essay_a_id"])) > quality(UUID(request["essay_b_id"]))
                winner = ComparisonWinner.ESSAY_A if a_wins else ComparisonWinner.ESSAY_B
                await self.handle(result_event(request, winner=winner))
        raise AssertionError("the batch kept asking for comparisons")
