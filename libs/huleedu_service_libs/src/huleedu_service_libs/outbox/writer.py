"""Adds events to the outbox inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import func, insert
from sqlalchemy.ext.asyncio import AsyncSession

from common_core.events.envelope import EventEnvelope, EventMetadata
from common_core.events.registry import EventRegistry, to_json_dict
from huleedu_service_libs.kafka.headers import kafka_headers
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.outbox.table import OUTBOX_NOTIFY_CHANNEL, outbox_table

# The notification rides on the insert, so writing events costs one round trip; Postgres
# delivers it (once per transaction) only if and when the transaction commits.
_INSERT = insert(outbox_table).returning(func.pg_notify(OUTBOX_NOTIFY_CHANNEL, ""))


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
        [envelope] = await self.add_many(
            session, [data], correlation_id=correlation_id, metadata=metadata
        )
        return envelope

    async def add_many(
        self,
        session: AsyncSession,
        data: Sequence[BaseModel],
        *,
        correlation_id: UUID | None = None,
        metadata: EventMetadata | None = None,
    ) -> list[EventEnvelope[Any]]:
        """Several events in one statement; the relay publishes them in the order given."""
        envelopes = [
            self._registry.envelope(
                item,
                source_service=self._source_service,
                correlation_id=correlation_id,
                metadata=metadata,
            )
            for item in data
        ]
        if envelopes:
            await session.execute(_INSERT, [self._row(envelope) for envelope in envelopes])
        return envelopes

    def _row(self, envelope: EventEnvelope[Any]) -> dict[str, Any]:
        spec = self._registry.spec(envelope.event_type)
        return {
            "event_id": envelope.event_id,
            "event_type": envelope.event_type,
            "topic": self._topics.topic(spec.topic),
            "aggregate_key": spec.key_for(envelope.data),
            "payload": to_json_dict(envelope),
            "headers": kafka_headers(envelope),
        }
