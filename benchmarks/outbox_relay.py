"""Outbox relay against raw aiokafka on one broker: throughput and commit-to-consumer latency.

Run by `make bench-outbox_relay` (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS from the launcher).
Creates its own database and topics; drops the database at the end. The last line of output
is one JSON object with the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any
from uuid import UUID, uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from common_core.events.envelope import EventEnvelope
from common_core.events.registry import EventRegistry, EventSpec, encode, to_json_dict
from huleedu_service_libs.database import UnitOfWork, create_engine, create_session_factory
from huleedu_service_libs.kafka.headers import kafka_headers
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.logging import configure_logging
from huleedu_service_libs.outbox import (
    OutboxRelay,
    OutboxWriter,
    create_outbox_schema,
    outbox_table,
)
from huleedu_service_libs.settings import ServiceSettings
from huleedu_service_libs.testing.databases import create_database, drop_database

THROUGHPUT_EVENTS = 20_000
LATENCY_RATE_PER_S = 200
LATENCY_SECONDS = 10
AGGREGATES = 200
PARTITIONS = 3
RELAY_BATCH_SIZE = 2000
TRIALS = 5


class EssaySpellcheckCompleted(BaseModel):
    """Shaped like a real per-essay result, so records have a realistic size."""

    batch_id: UUID
    essay_id: UUID
    original_text_storage_id: str
    corrected_text_storage_id: str
    language: str
    total_corrections: int
    l2_dictionary_corrections: int
    spellchecker_corrections: int
    word_count: int
    status: str
    processing_duration_ms: int
    seq: int


def _registry(logical_topic: str) -> EventRegistry:
    return EventRegistry(
        [
            EventSpec(
                event_type="EssaySpellcheckCompleted",
                topic=logical_topic,
                data_model=EssaySpellcheckCompleted,
                key_field="batch_id",
                description="benchmark event",
            )
        ]
    )


def _payload(batch_ids: list[UUID], seq: int) -> EssaySpellcheckCompleted:
    return EssaySpellcheckCompleted(
        batch_id=batch_ids[seq % len(batch_ids)],
        essay_id=uuid4(),
        original_text_storage_id=uuid4().hex,
        corrected_text_storage_id=uuid4().hex,
        language="en",
        total_corrections=17,
        l2_dictionary_corrections=5,
        spellchecker_corrections=12,
        word_count=642,
        status="completed",
        processing_duration_ms=1234,
        seq=seq,
    )


def _envelope(registry: EventRegistry, batch_ids: list[UUID], seq: int) -> EventEnvelope[Any]:
    return registry.envelope(_payload(batch_ids, seq), source_service="spellchecker")


async def _event_ids_on(bootstrap: str, topic: str) -> list[str]:
    """Every record's event id, read up to the high watermark each fetch reports.

    (Tansu answers ListOffsets(latest) with the last batch's base offset, so end_offsets()
    would undercount; the fetch high watermark is right on Tansu and Apache Kafka alike.)
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    ids: list[str] = []
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        for tp in partitions:
            while True:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                ids.extend(dict(r.headers)["event_id"].decode() for r in batch.get(tp, []))
                highwater = consumer.highwater(tp)
                if highwater is not None and await consumer.position(tp) >= highwater:
                    break
    finally:
        await consumer.stop()
    return ids


async def raw_throughput(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes, Any]]
) -> float:
    """aiokafka alone, configured like KafkaPublisher (acks=all, linger 5 ms), pipelined."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        await (await producer.send(topic, value=b"warm-up", key=b"warm-up"))
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    return len(records) / elapsed


async def _insert_backlog(
    engine: AsyncEngine, registry: EventRegistry, topics: TopicNamer, batch_ids: list[UUID]
) -> None:
    """Rows exactly as OutboxWriter writes them, inserted in bulk to build the backlog fast."""
    spec = registry.spec("EssaySpellcheckCompleted")
    rows = []
    for seq in range(THROUGHPUT_EVENTS):
        envelope = _envelope(registry, batch_ids, seq)
        rows.append(
            {
                "event_id": envelope.event_id,
                "event_type": envelope.event_type,
                "topic": topics.topic(spec.topic),
                "aggregate_key": spec.key_for(envelope.data),
                "payload": to_json_dict(envelope),
                "headers": kafka_headers(envelope),
            }
        )
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE event_outbox"))
        for start in range(0, len(rows), 2000):
            await connection.execute(insert(outbox_table), rows[start : start + 2000])
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE event_outbox"))


async def relay_throughput(relay: OutboxRelay) -> tuple[float, int]:
    started = time.perf_counter()
    published = await relay.drain_once()
    elapsed = time.perf_counter() - started
    return published / elapsed, published


async def latency(
    settings: ServiceSettings,
    engine: AsyncEngine,
    relay: OutboxRelay,
    writer: OutboxWriter,
    topic: str,
    batch_ids: list[UUID],
) -> list[float]:
    """Commit at a steady rate while the relay runs; the consumer measures commit to receipt."""
    committed: dict[str, float] = {}
    received: dict[str, float] = {}
    total = LATENCY_RATE_PER_S * LATENCY_SECONDS
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        fetch_max_wait_ms=5,
    )
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)

    async def consume() -> None:
        while len(received) < total:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for records in batch.values():
                for record in records:
                    event_id = dict(record.headers)["event_id"].decode()
                    received.setdefault(event_id, now)

    sessions = create_session_factory(engine)

    async def write() -> None:
        started = time.perf_counter()
        for seq in range(total):
            delay = started + seq / LATENCY_RATE_PER_S - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            async with UnitOfWork(sessions, writer) as uow:
                envelope = await uow.publish(_payload(batch_ids, seq))
                await uow.commit()
            committed[str(envelope.event_id)] = time.time()

    stop = asyncio.Event()
    relay_task = asyncio.create_task(relay.run(stop))
    consumer_task = asyncio.create_task(consume())
    try:
        for _ in range(3000):  # LISTEN is in place once the relay leads
            if relay.is_leader:
                break
            await asyncio.sleep(0.01)
        await write()
        await asyncio.wait_for(consumer_task, timeout=60)
    finally:
        stop.set()
        await relay_task
        consumer_task.cancel()
        await asyncio.gather(consumer_task, return_exceptions=True)
        await consumer.stop()
    return [(received[e] - committed[e]) * 1000 for e in committed]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def throughput_trials(
    engine: AsyncEngine,
    settings: ServiceSettings,
    topics: TopicNamer,
    batch_ids: list[UUID],
) -> tuple[float, float] | None:
    """Raw produce and relay drain, alternated TRIALS times; the medians of each."""
    bootstrap = settings.kafka_bootstrap_servers
    raw_topic = topics.topic("huleedu.bench.raw.v1")
    relay_logical = [f"huleedu.bench.relay{trial}.v1" for trial in range(TRIALS)]
    await ensure_topics(
        bootstrap, [raw_topic, *(topics.topic(t) for t in relay_logical)], partitions=PARTITIONS
    )
    raw_registry = _registry("huleedu.bench.raw.v1")
    envelopes = [_envelope(raw_registry, batch_ids, seq) for seq in range(THROUGHPUT_EVENTS)]
    records = [
        (
            str(e.data.batch_id).encode(),
            encode(e),
            [(k, v.encode()) for k, v in kafka_headers(e).items()],
        )
        for e in envelopes
    ]
    print(f"record size            {len(encode(envelopes[0]))} bytes (+ headers)")
    raw_runs: list[float] = []
    relay_runs: list[float] = []
    for trial, logical in enumerate(relay_logical):
        raw_runs.append(await raw_throughput(bootstrap, raw_topic, records))
        registry = _registry(logical)
        await _insert_backlog(engine, registry, topics, batch_ids)
        publisher = KafkaPublisher(settings, registry)
        await publisher.start()
        try:
            relay = OutboxRelay(
                engine,
                publisher,
                service_name="bench_outbox",
                batch_size=RELAY_BATCH_SIZE,
                registry=CollectorRegistry(),
            )
            relay_eps, published = await relay_throughput(relay)
            backlog = (await relay.stats()).backlog
        finally:
            await publisher.stop()
        relay_runs.append(relay_eps)
        ids = await _event_ids_on(bootstrap, topics.topic(logical))
        print(
            f"trial {trial + 1}: raw aiokafka {raw_runs[-1]:,.0f} events/s,"
            f" relay drain {relay_eps:,.0f} events/s ({relay_eps / raw_runs[-1]:.2f} x raw;"
            f" {published:,} published, {len(ids):,} on the topic, {len(set(ids)):,} distinct,"
            f" backlog left {backlog})"
        )
        if not published == len(ids) == len(set(ids)) == THROUGHPUT_EVENTS or backlog:
            print("relay drain did not publish the backlog exactly once", file=sys.stderr)
            return None
    return statistics.median(raw_runs), statistics.median(relay_runs)


async def latency_run(
    engine: AsyncEngine, settings: ServiceSettings, topics: TopicNamer, batch_ids: list[UUID]
) -> list[float]:
    logical = "huleedu.bench.latency.v1"
    await ensure_topics(settings.kafka_bootstrap_servers, [topics.topic(logical)], partitions=3)
    registry = _registry(logical)
    publisher = KafkaPublisher(settings, registry)
    await publisher.start()
    metrics = CollectorRegistry()
    try:
        relay = OutboxRelay(engine, publisher, service_name="bench_outbox", registry=metrics)
        writer = OutboxWriter(registry, topics, "spellchecker")
        latencies = await latency(settings, engine, relay, writer, topics.topic(logical), batch_ids)
    finally:
        await publisher.stop()
    labels = {"service": "bench_outbox"}
    acked_sum = metrics.get_sample_value("huleedu_outbox_publish_latency_seconds_sum", labels)
    acked_n = metrics.get_sample_value("huleedu_outbox_publish_latency_seconds_count", labels)
    if acked_sum is not None and acked_n:
        print(f"relay row-to-ack       mean {acked_sum / acked_n * 1000:.1f} ms (relay metric)")
    return latencies


async def main() -> int:
    configure_logging("bench_outbox", level="WARNING", json=False)
    server_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    run = uuid.uuid4().hex[:8]
    database = f"bench_outbox_{run}"
    topics = TopicNamer(f"bench.{run}.")
    database_url = await create_database(server_url, database)
    engine = create_engine(database_url, pool_size=5)
    batch_ids = [uuid4() for _ in range(AGGREGATES)]
    settings = ServiceSettings(
        service_name="bench_outbox",
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_prefix=topics.prefix,
    )
    try:
        await create_outbox_schema(engine)
        medians = await throughput_trials(engine, settings, topics, batch_ids)
        if medians is None:
            return 1
        raw_eps, relay_eps = medians
        print(
            f"median of {TRIALS}: raw {raw_eps:,.0f} events/s, relay {relay_eps:,.0f} events/s"
            f" ({relay_eps / raw_eps:.2f} x raw)"
        )
        latencies = await latency_run(engine, settings, topics, batch_ids)
    finally:
        await engine.dispose()
        await drop_database(server_url, database)
    p50 = statistics.median(latencies)
    p99 = _percentile(latencies, 0.99)
    print(
        f"commit-to-consumer     p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
        f" max {max(latencies):.1f} ms ({len(latencies):,} events at {LATENCY_RATE_PER_S}/s)"
    )
    figures = {
        "raw_eps": round(raw_eps),
        "relay_eps": round(relay_eps),
        "relay_vs_raw": round(relay_eps / raw_eps, 3),
        "latency_p50_ms": round(p50, 2),
        "latency_p99_ms": round(p99, 2),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
