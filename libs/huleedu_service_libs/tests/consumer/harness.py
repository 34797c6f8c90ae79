"""One test harness for the consumer-loop and idempotency suites.

Everything is real: a database of its own per test, the run's Redis and broker, topics unique
per test. The handler under test writes one row to `effects` in the unit of work, so "the
effect happened exactly once" is a row count.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, Identity, MetaData, Table, Text, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common_core.events.envelope import EventEnvelope
from common_core.events.registry import EventRegistry, EventSpec, encode, topic_name
from huleedu_service_libs.database import UnitOfWork, create_engine, create_session_factory
from huleedu_service_libs.idempotency import IdempotencyGuard, create_inbox_schema, inbox_table
from huleedu_service_libs.kafka.consumer import ConsumerLoop
from huleedu_service_libs.kafka.dead_letter import DeadLetter, read_dead_letter
from huleedu_service_libs.kafka.headers import kafka_headers
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.outbox.writer import OutboxWriter

EVENT_TYPE = "test.item.recorded"


class ItemRecorded(BaseModel):
    """Test-only payload: an item recorded for a batch."""

    batch_id: UUID
    item: str


class SimulatedCrash(BaseException):
    """The process dies here: nothing in the loop may catch it."""


_effects_metadata = MetaData()
effects = Table(
    "effects",
    _effects_metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
    Column("item", Text, nullable=False),
    Column("handled_by", Text, nullable=False),
)


class RecordingHandler:
    """Writes one `effects` row per call and remembers every call.

    `fail_first` calls raise after the write (an error the loop must roll back); items named
    in `poison` always fail, those in `flaky` fail that many times; `crash_first` calls raise
    SimulatedCrash after the write; `gate` (when given) is awaited after the write; `entered`
    is set when a call has written.
    """

    def __init__(
        self,
        *,
        name: str = "handler",
        fail_first: int = 0,
        crash_first: int = 0,
        poison: frozenset[str] = frozenset(),
        flaky: dict[str, int] | None = None,
        delay_s: float = 0.0,
        gate: asyncio.Event | None = None,
        during: Callable[[EventEnvelope[Any], UnitOfWork], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self.fail_first = fail_first
        self.crash_first = crash_first
        self.poison = poison
        self.flaky = dict(flaky or {})
        self.delay_s = delay_s
        self.gate = gate
        self.during = during
        self.entered = asyncio.Event()
        self.calls: list[UUID] = []
        self.items: list[str] = []

    async def __call__(self, envelope: EventEnvelope[Any], uow: UnitOfWork) -> None:
        self.calls.append(envelope.event_id)
        self.items.append(envelope.data.item)
        await uow.session.execute(
            insert(effects).values(
                event_id=envelope.event_id, item=envelope.data.item, handled_by=self.name
            )
        )
        self.entered.set()
        if self.during is not None:
            await self.during(envelope, uow)
        if self.gate is not None:
            await self.gate.wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.flaky.get(envelope.data.item, 0) > 0:
            self.flaky[envelope.data.item] -= 1
            raise RuntimeError(f"flaky item {envelope.data.item}")
        if envelope.data.item in self.poison:
            raise RuntimeError(f"poison item {envelope.data.item}")
        if len(self.calls) <= self.crash_first:
            raise SimulatedCrash("process died after the handler wrote")
        if len(self.calls) <= self.crash_first + self.fail_first:
            raise RuntimeError("handler failed after writing")

    def count(self, event_id: UUID) -> int:
        return sum(1 for e in self.calls if e == event_id)


class Running:
    """A loop running in the background until `halt` (graceful stop, errors re-raised)."""

    def __init__(self, loop: ConsumerLoop) -> None:
        self.loop = loop
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(loop.run(self.stop))

    async def halt(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=60)


class Harness:
    """Infrastructure of one test: settings, database, topic, producer, guard factory.

    Test modules reach the harness only through the `harness_factory` fixture, so the
    pieces they need (handler, crash, polling) hang off it.
    """

    SimulatedCrash = SimulatedCrash
    event_type = EVENT_TYPE

    def __init__(self, settings_factory: Any, database_url: str, redis: aioredis.Redis) -> None:
        self.suffix = uuid.uuid4().hex[:8]
        self.settings = settings_factory(
            "consumer-test", database_url=database_url, kafka_max_delivery_attempts=3
        )
        self.redis = redis
        self.registry = EventRegistry(
            [
                EventSpec(
                    event_type=EVENT_TYPE,
                    topic=topic_name("test", f"items_{self.suffix}"),
                    data_model=ItemRecorded,
                    key_field="batch_id",
                    description="test-only event",
                )
            ]
        )
        self.namer = TopicNamer(self.settings.kafka_topic_prefix)
        self.logical_topic = self.registry.spec(EVENT_TYPE).topic
        self.topic = self.namer.topic(self.logical_topic)
        self.dead_letter_topic = self.namer.dead_letter(self.logical_topic)
        self.engine = create_engine(database_url)
        self.sessions = create_session_factory(self.engine)
        self.outbox = OutboxWriter(self.registry, self.namer, "consumer-test")
        self.publisher = KafkaPublisher(self.settings, self.registry)
        self.producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        self.consumer_name = f"consumer-{self.suffix}"
        self.partitions = 1

    async def setup(self, *, partitions: int) -> None:
        self.partitions = partitions
        await create_inbox_schema(self.engine)
        async with self.engine.begin() as conn:
            await conn.run_sync(_effects_metadata.create_all)
        await ensure_topics(
            self.settings.kafka_bootstrap_servers, [self.topic], partitions=partitions
        )
        await self.publisher.start()
        await self.producer.start()

    async def close(self) -> None:
        await self.producer.stop()
        await self.publisher.stop()
        await self.engine.dispose()

    # --- building blocks ------------------------------------------------------------------

    @staticmethod
    def handler(**options: Any) -> RecordingHandler:
        return RecordingHandler(**options)

    @staticmethod
    async def wait_until(
        condition: Callable[[], Awaitable[bool]], *, timeout_s: float = 60, what: str = "condition"
    ) -> None:
        await wait_until(condition, timeout_s=timeout_s, what=what)

    def guard(self, redis: aioredis.Redis | None = None, **options: Any) -> IdempotencyGuard:
        return IdempotencyGuard(
            redis or self.redis, key_prefix=self.settings.redis_key_prefix, **options
        )

    def loop(
        self,
        handler: Any,
        *,
        guard: IdempotencyGuard | None,
        name: str | None = None,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        **options: Any,
    ) -> ConsumerLoop:
        values: dict[str, Any] = {
            "retry_backoff_s": 0.05,
            "max_backoff_s": 0.5,
            "busy_backoff_s": 0.1,
            "poll_timeout_ms": 100,
            # The dev broker delays a join by half the session timeout: keep both short.
            "consumer_options": {"heartbeat_interval_ms": 300, "session_timeout_ms": 3000},
        }
        values.update(options)
        return ConsumerLoop(
            self.settings,
            consumer_name=name or self.consumer_name,
            registry=self.registry,
            handlers={EVENT_TYPE: handler},
            sessions=sessions or self.sessions,
            outbox=self.outbox,
            guard=guard,
            publisher=self.publisher,
            **values,
        )

    def envelope(self, item: str, batch_id: UUID | None = None) -> EventEnvelope[ItemRecorded]:
        return self.registry.envelope(
            ItemRecorded(batch_id=batch_id or uuid.uuid4(), item=item),
            source_service="test-producer",
        )

    def record(self, envelope: EventEnvelope[Any], offset: int = 0) -> ConsumerRecord[Any, Any]:
        """A consumer record as the loop would receive it (for driving `process` directly)."""
        value = encode(envelope)
        key = str(envelope.data.batch_id).encode()
        return ConsumerRecord(
            topic=self.topic,
            partition=0,
            offset=offset,
            timestamp=int(time.time() * 1000),
            timestamp_type=0,
            key=key,
            value=value,
            checksum=None,
            serialized_key_size=len(key),
            serialized_value_size=len(value),
            headers=[(k, v.encode()) for k, v in kafka_headers(envelope).items()],
        )

    async def produce(self, envelope: EventEnvelope[Any], *, partition: int | None = None) -> int:
        """Publish as a service would (key, headers); returns the partition it landed on."""
        return await self.produce_raw(
            encode(envelope),
            key=str(envelope.data.batch_id),
            headers=kafka_headers(envelope),
            partition=partition,
        )

    async def produce_raw(
        self,
        value: bytes,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        partition: int | None = None,
    ) -> int:
        metadata = await self.producer.send_and_wait(
            self.topic,
            value=value,
            key=key.encode() if key is not None else None,
            partition=partition,
            headers=[(k, v.encode()) for k, v in (headers or {}).items()],
        )
        return int(metadata.partition)

    @asynccontextmanager
    async def running(self, loop: ConsumerLoop) -> AsyncIterator[Running]:
        """Run the loop in the background; on exit stop it gracefully and surface its errors."""
        running = Running(loop)
        try:
            yield running
        finally:
            await running.halt()

    # --- observations ---------------------------------------------------------------------

    async def effect_counts(self) -> Counter[UUID]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(effects.c.event_id, func.count()).group_by(effects.c.event_id)
                )
            ).all()
        return Counter(dict(rows))

    async def effect_items(self) -> list[str]:
        """The items of the committed effects, in the order they were written."""
        async with self.engine.connect() as conn:
            return list(
                (await conn.execute(select(effects.c.item).order_by(effects.c.id))).scalars()
            )

    async def effect_total(self) -> int:
        return sum((await self.effect_counts()).values())

    async def inbox_count(self) -> int:
        async with self.engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(inbox_table))).scalar_one()
            )

    async def dead_letters(self, expected: int, *, timeout_s: float = 60) -> list[DeadLetter]:
        """Exactly `expected` dead letters, read from the beginning of the dead-letter topic."""
        consumer = AIOKafkaConsumer(
            self.dead_letter_topic,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        found: list[ConsumerRecord[Any, Any]] = []
        try:
            deadline = time.monotonic() + timeout_s
            while len(found) < expected and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    found.extend(records)
            # One more poll: a surplus dead letter would show up here.
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(records)
        finally:
            await consumer.stop()
        assert len(found) == expected, f"expected {expected} dead letters, found {len(found)}"
        found.sort(key=lambda r: (r.partition, r.offset))
        return [read_dead_letter(r) for r in found]

    async def committed_offsets(self, group: str | None = None) -> dict[int, int]:
        """The group's committed offsets on the test topic (partitions without one omitted)."""
        # Manual assignment: reads the group's offsets without joining (and rebalancing) it.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=TopicNamer(self.settings.kafka_topic_prefix).group(
                group or self.consumer_name
            ),
            enable_auto_commit=False,
        )
        partitions = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        consumer.assign(partitions)
        await consumer.start()
        try:
            committed = {tp.partition: await consumer.committed(tp) for tp in partitions}
        finally:
            await consumer.stop()
        return {p: offset for p, offset in committed.items() if offset is not None}

    async def redis_value(self, key: str) -> str | None:
        value = await self.redis.get(key)
        return value.decode() if isinstance(value, bytes) else value


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, timeout_s: float = 60, what: str = "condition"
) -> None:
    """Poll until `condition` holds; a test fails (not hangs) when it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def harness_factory(
    settings_factory: Any, database_url: str, redis_client: aioredis.Redis
) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    """`await harness_factory(partitions=1)` → a ready Harness, closed after the test."""
    made: list[Harness] = []

    async def make(*, partitions: int = 1) -> Harness:
        harness = Harness(settings_factory, database_url, redis_client)
        made.append(harness)
        await harness.setup(partitions=partitions)
        return harness

    yield make
    for harness in made:
        await harness.close()
