"""Throughput of the consumer loop with the Redis idempotency guard vs. without it.

Both modes run the same `ConsumerLoop` over the same number of pre-produced events on a
3-partition topic of their own, with a handler that writes one row per event:

- guarded: Redis claim (SET NX PX, pipelined per chunk of 20 fetched messages); per chunk one
  transaction with the chunk's inbox rows (one statement) and each event's handler write;
  then Redis confirm (Lua compare-and-set, pipelined per fetched batch) before the batch's
  offsets are committed;
- plain:   `guard=None`; everything else identical (a transaction per chunk, offsets
  committed per fetched batch).

So `overhead = plain_eps / guarded_eps` is the price of the guard alone. After a warm-up,
each mode handles EVENTS events split over ROUNDS short runs, paired and interleaved in ABBA
order so that load from other processes hits both modes alike; the median run of each mode
counts. Timing runs from the first handler call to the last, so the consumer-group join is
not measured. Topics are deleted after each run (the dev broker keeps them in memory).

Needs DATABASE_URL, REDIS_URL and KAFKA_BOOTSTRAP_SERVERS (`make bench-idempotent_consumer`).
Creates its own database and uniquely named topics; drops the database at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, Identity, MetaData, Table, Text, insert
from sqlalchemy.dialects import postgresql

from common_core.events.envelope import EventEnvelope
from common_core.events.registry import EventRegistry, EventSpec, encode, topic_name
from huleedu_service_libs.database import UnitOfWork, create_engine, create_session_factory
from huleedu_service_libs.idempotency import IdempotencyGuard, create_inbox_schema
from huleedu_service_libs.kafka.consumer import ConsumerLoop
from huleedu_service_libs.kafka.headers import kafka_headers
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.logging import configure_logging
from huleedu_service_libs.outbox.writer import OutboxWriter
from huleedu_service_libs.settings import ServiceSettings
from huleedu_service_libs.testing.databases import create_database, drop_database

EVENTS = int(os.environ.get("BENCH_EVENTS", "5000"))  # per mode, over all rounds
ROUNDS = 10
WARMUP_EVENTS = 500
PARTITIONS = 3


class BenchItem(BaseModel):
    batch_id: UUID
    item: str


_metadata = MetaData()
effects = Table(
    "bench_effects",
    _metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
    Column("item", Text, nullable=False),
)


class TimedHandler:
    """One write per event; records when the first call started and the last one ended."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.calls = 0
        self.first = 0.0
        self.last = 0.0
        self.done = asyncio.Event()

    async def __call__(self, envelope: EventEnvelope[Any], uow: UnitOfWork) -> None:
        if self.calls == 0:
            self.first = time.perf_counter()
        await uow.session.execute(
            insert(effects).values(event_id=envelope.event_id, item=envelope.data.item)
        )
        self.calls += 1
        if self.calls == self.expected:
            self.last = time.perf_counter()
            self.done.set()


class Bench:
    def __init__(self, settings: ServiceSettings, redis: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = redis
        self.engine = create_engine(settings.database_url, pool_size=5)
        self.sessions = create_session_factory(self.engine)
        self.namer = TopicNamer(settings.kafka_topic_prefix)

    async def run(self, label: str, events: int, *, guarded: bool) -> float:
        """Events per second of one pass over `events` fresh events."""
        suffix = uuid.uuid4().hex[:8]
        registry = EventRegistry(
            [
                EventSpec(
                    event_type="bench.item.recorded",
                    topic=topic_name("bench", f"{label}_{suffix}"),
                    data_model=BenchItem,
                    key_field="batch_id",
                    description="benchmark event",
                )
            ]
        )
        topic = self.namer.topic(registry.spec("bench.item.recorded").topic)
        await ensure_topics(self.settings.kafka_bootstrap_servers, [topic], partitions=PARTITIONS)
        await self._produce(registry, topic, events)

        publisher = KafkaPublisher(self.settings, registry)
        await publisher.start()
        handler = TimedHandler(events)
        guard = (
            IdempotencyGuard(self.redis, key_prefix=f"{self.settings.redis_key_prefix}:{suffix}")
            if guarded
            else None
        )
        loop = ConsumerLoop(
            self.settings,
            consumer_name=f"bench-{label}-{suffix}",
            registry=registry,
            handlers={"bench.item.recorded": handler},
            sessions=self.sessions,
            outbox=OutboxWriter(registry, self.namer, "bench"),
            guard=guard,
            publisher=publisher,
            consumer_options={"session_timeout_ms": 3000, "heartbeat_interval_ms": 500},
        )
        stop = asyncio.Event()
        task = asyncio.create_task(loop.run(stop))
        try:
            await asyncio.wait_for(handler.done.wait(), timeout=600)
        finally:
            stop.set()
            await task
            await publisher.stop()
            await self._delete_topics([topic, self.namer.dead_letter(registry.topics()[0])])
        return (events - 1) / (handler.last - handler.first)

    async def _delete_topics(self, topics: list[str]) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            await admin.delete_topics(topics)
        finally:
            await admin.close()

    async def _produce(self, registry: EventRegistry, topic: str, events: int) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, linger_ms=5
        )
        await producer.start()
        try:
            batch_ids = [uuid.uuid4() for _ in range(50)]
            sends = []
            for i in range(events):
                envelope = registry.envelope(
                    BenchItem(batch_id=batch_ids[i % len(batch_ids)], item=f"item-{i}"),
                    source_service="bench",
                )
                sends.append(
                    await producer.send(
                        topic,
                        value=encode(envelope),
                        key=str(envelope.data.batch_id).encode(),
                        headers=[(k, v.encode()) for k, v in kafka_headers(envelope).items()],
                    )
                )
            await asyncio.gather(*sends)
        finally:
            await producer.stop()


async def main() -> None:
    configure_logging("bench", level="WARNING")
    server_url = os.environ["DATABASE_URL"]
    run = uuid.uuid4().hex[:8]
    database = f"bench_idempotent_consumer_{run}"
    database_url = await create_database(server_url, database)
    settings = ServiceSettings(
        service_name="bench",
        database_url=database_url,
        redis_url=os.environ["REDIS_URL"],
        redis_key_prefix=f"bench:{run}",
        kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        kafka_topic_prefix=f"bench{run}.",
    )
    redis = aioredis.from_url(settings.redis_url)
    bench = Bench(settings, redis)
    try:
        await create_inbox_schema(bench.engine)
        async with bench.engine.begin() as conn:
            await conn.run_sync(_metadata.create_all)

        await bench.run("warmup_plain", WARMUP_EVENTS, guarded=False)
        await bench.run("warmup_guarded", WARMUP_EVENTS, guarded=True)
        plain: list[float] = []
        guarded: list[float] = []
        per_round = EVENTS // ROUNDS
        for round_ in range(1, ROUNDS + 1):
            for mode in ("plain", "guarded") if round_ % 2 else ("guarded", "plain"):
                eps = await bench.run(f"{mode}{round_}", per_round, guarded=mode == "guarded")
                (guarded if mode == "guarded" else plain).append(eps)
            print(
                f"round {round_:2}: plain {plain[-1]:8.1f} ev/s   guarded {guarded[-1]:8.1f} ev/s"
                f"   ratio {plain[-1] / guarded[-1]:.3f}",
                flush=True,
            )
    finally:
        async for key in redis.scan_iter(match=f"{settings.redis_key_prefix}:*", count=1000):
            await redis.delete(key)
        await redis.aclose()
        await bench.engine.dispose()
        await drop_database(server_url, database)

    plain_eps = statistics.median(plain)
    guarded_eps = statistics.median(guarded)
    overhead = plain_eps / guarded_eps
    print(
        f"events per mode: {EVENTS} in {ROUNDS} runs of {EVENTS // ROUNDS}, "
        f"{PARTITIONS} partitions; figures are the median run"
    )
    print("plain   = loop with guard=None: inbox rows + handler's one write per event, a commit")
    print("          per chunk of up to 20 events")
    print("guarded = plain + Redis claim (SET NX PX) and confirm (Lua CAS) per event, pipelined")
    print(f"plain:    {plain_eps:8.1f} events/s")
    print(f"guarded:  {guarded_eps:8.1f} events/s")
    print(f"overhead: {overhead:.3f} (target <= 1.3)")
    print(
        json.dumps(
            {
                "guarded_eps": round(guarded_eps, 1),
                "plain_eps": round(plain_eps, 1),
                "overhead": round(overhead, 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
