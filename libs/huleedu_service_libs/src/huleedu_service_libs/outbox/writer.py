"""Adds events to the outbox inside the caller's transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from common_core.events.envelope import EventEnvelope, EventMetadata
from common_core.events.registry import EventRegistry, to_json_dict
from huleedu_service_libs.kafka.headers import kafka_headers
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.outbox.table import OUTBOX_NOTIFY_CHANNEL, outbox_table


class OutboxWriter:
    """Turns a payload into an envelope and an outbox row; wakes the relay on commit."""

    def __init__(self, registry: EventRegistry, topics: TopicNamer, source_service: str) -> None:
        self._registry = registry
        self._topics = topics
        self._source_service = source_service

    async def add(
        self,
        session: AsyncSession,
        data: BaseModel,
        *,
        correlation_id: UUID | None = None,
        metadata: EventMetadata | None = None,
    ) -> EventEnvelope[Any]:
        envelope = self._registry.envelope(
            data,
            source_service=self._source_service,
            correlation_id=correlation_id,
            metadata=metadata,
        )
        await self.add_envelope(session, envelope)
        return envelope

    async def add_envelope(self, session: AsyncSession, envelope: EventEnvelope[Any]) -> None:
        spec = self._registry.spec(envelope.event_type)
        await session.execute(
            insert(outbox_table).values(
                event_id=envelope.event_id,
                event_type=envelope.event_type,
                topic=self._topics.topic(spec.topic),
                aggregate_key=spec.key_for(envelope.data),
                payload=to_json_dict(envelope),
                headers=kafka_headers(envelope),
            )
        )
        # Delivered by Postgres only if and when this transaction commits.
        await session.execute(select(func.pg_notify(OUTBOX_NOTIFY_CHANNEL, "")))
