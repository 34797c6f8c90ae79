"""Fixtures for the outbox tests: a database with the outbox, a unique topic, a publisher."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common_core.events.envelope import EventEnvelope
from common_core.events.registry import EventRegistry, EventSpec, topic_name
from huleedu_service_libs.database import (
    UnitOfWork,
    create_engine,
    create_session_factory,
)
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.local_infra.launcher import Endpoints
from huleedu_service_libs.outbox import OutboxWriter, create_outbox_schema, outbox_table
from huleedu_service_libs.settings import ServiceSettings


class ThingHappened(BaseModel):
    """A test-only event payload; `thing_id` is its aggregate key."""

    thing_id: str
    seq: int


PARTITIONS = 3


@dataclass
class OutboxKit:
    """Everything one test needs to write events and publish them."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    registry: EventRegistry
    writer: OutboxWriter
    settings: ServiceSettings
    topic: str
    bootstrap_servers: str
    service_name: str
    # Test modules cannot import this conftest (importlib mode); they build payloads here.
    thing = ThingHappened

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.writer)

    async def write(self, *things: ThingHappened) -> list[EventEnvelope[Any]]:
        """Commit one transaction that records `things` as events."""
        async with self.unit_of_work() as uow:
            envelopes = [await uow.publish(thing) for thing in things]
            await uow.commit()
        return envelopes

    async def publisher(self) -> KafkaPublisher:
        publisher = KafkaPublisher(self.settings, self.registry)
        await publisher.start()
        return publisher

    async def rows(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            result = await connection.execute(select(outbox_table).order_by(outbox_table.c.id))
            return [dict(row) for row in result.mappings()]

    async def read_topic(self) -> list[ConsumerRecord[Any, Any]]:
        """Every record in the topic now, partition by partition in offset order.

        Reads up to the high watermark each fetch reports: Tansu answers ListOffsets(latest)
        with the last batch's base offset, so `end_offsets()` would stop short.
        """
        partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            records: list[ConsumerRecord[Any, Any]] = []
            for tp in partitions:
                while True:
                    batch = await consumer.getmany(tp, timeout_ms=1000)
                    records.extend(batch.get(tp, []))
                    highwater = consumer.highwater(tp)
                    if highwater is not None and await consumer.position(tp) >= highwater:
                        break
            return records
        finally:
            await consumer.stop()

    async def wait_for_records(
        self, count: int, *, within_s: float
    ) -> list[ConsumerRecord[Any, Any]]:
        """Consume the topic from the start until `count` records arrived or `within_s` passed."""
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            fetch_max_wait_ms=50,
        )
        await consumer.start()
        records: list[ConsumerRecord[Any, Any]] = []
        try:
            async with asyncio.timeout(within_s):
                while len(records) < count:
                    batch = await consumer.getmany(timeout_ms=200)
                    for part in batch.values():
                        records.extend(part)
        except TimeoutError:
            pass
        finally:
            await consumer.stop()
        return records

    @staticmethod
    def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
        for key, value in record.headers or ():
            if key == name:
                return bytes(value).decode()
        return None

    @staticmethod
    async def eventually(
        condition: Callable[[], Awaitable[bool]], *, within_s: float = 30.0
    ) -> bool:
        """Poll `condition` until true or `within_s` passed: a bound, never a speed claim."""
        try:
            async with asyncio.timeout(within_s):
                while True:
                    if await condition():
                        return True
                    await asyncio.sleep(0.05)
        except TimeoutError:
            return False


@pytest.fixture
async def kit(
    database_url: str, settings_factory: Callable[..., ServiceSettings], infra: Endpoints
) -> AsyncIterator[OutboxKit]:
    suffix = uuid.uuid4().hex[:8]
    service_name = f"outbox_{suffix}"
    settings = settings_factory(service_name, database_url=database_url)
    registry = EventRegistry(
        [
            EventSpec(
                event_type="ThingHappened",
                topic=topic_name("outboxtest", f"thing_{suffix}"),
                data_model=ThingHappened,
                key_field="thing_id",
                description="test event",
            )
        ]
    )
    topics = TopicNamer(settings.kafka_topic_prefix)
    topic = topics.topic(registry.spec("ThingHappened").topic)
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], partitions=PARTITIONS)
    engine = create_engine(database_url)
    await create_outbox_schema(engine)
    yield OutboxKit(
        engine=engine,
        sessions=create_session_factory(engine),
        registry=registry,
        writer=OutboxWriter(registry, topics, service_name),
        settings=settings,
        topic=topic,
        bootstrap_servers=infra.kafka_bootstrap_servers,
        service_name=service_name,
    )
    await engine.dispose()


@pytest.fixture
async def publisher(kit: OutboxKit) -> AsyncIterator[KafkaPublisher]:
    publisher = await kit.publisher()
    yield publisher
    await publisher.stop()
