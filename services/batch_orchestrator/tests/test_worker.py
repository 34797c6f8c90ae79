"""BOS's worker pieces on the run's broker: the consumer loop and the outbox relay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from batch_orchestrator.handlers import event_handlers
from batch_orchestrator.service import DEFINITION
from prometheus_client import REGISTRY as METRICS
from quart.testing import QuartClient

from common_core.events import REGISTRY
from common_core.events.base import EssayTextRef
from common_core.events.batch import (
    BatchContentProvisioningCompleted,
    BatchEssaysReady,
    BatchEssaysRegistered,
)
from common_core.events.essay import ExcessContentProvisioned
from common_core.status import BatchStatus
from huleedu_service_libs.idempotency import IdempotencyGuard
from huleedu_service_libs.kafka.consumer import ConsumerLoop
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.outbox import OutboxRelay

pytestmark = pytest.mark.integration

TEXT_ID = "c" * 64


async def eventually(condition: Callable[[], Awaitable[bool]], *, within_s: float = 60) -> None:
    """Poll until `condition` holds; the bound is a failure limit, not a speed claim."""
    async with asyncio.timeout(within_s):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)


def consumed(consumer: str, metric: str) -> float:
    """The consumer loop's own count of events it handled or skipped, for one consumer."""
    return sum(
        sample.value
        for family in METRICS.collect()
        for sample in family.samples
        if sample.name == metric and sample.labels.get("consumer") == consumer
    )


async def test_the_consumer_loop_applies_intake_outcomes_once_despite_redelivery(
    bos: Any, redis_client: aioredis.Redis
) -> None:
    settings = bos.settings
    namer = TopicNamer(settings.kafka_topic_prefix)
    handlers = event_handlers()
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        [namer.topic(REGISTRY.spec(event_type).topic) for event_type in handlers],
    )
    batch = await bos.register(expected_essay_count=2)
    essays = await bos.essay_ids(batch.batch_id)
    ready = bos.envelope(
        BatchEssaysReady(
            batch_id=batch.batch_id,
            ready_essays=[EssayTextRef(essay_id=e, text_id=TEXT_ID) for e in essays],
        )
    )
    completed = bos.envelope(
        BatchContentProvisioningCompleted(
            batch_id=batch.batch_id, expected_essay_count=2, provisioned_count=2, failed_count=0
        )
    )
    surplus = bos.envelope(
        ExcessContentProvisioned(
            batch_id=batch.batch_id,
            file_upload_id=uuid.uuid4(),
            original_file_name="third.txt",
            text_id=TEXT_ID,
        )
    )

    publisher = KafkaPublisher(settings, REGISTRY)
    await publisher.start()
    loop = ConsumerLoop(
        settings,
        consumer_name=f"batch_orchestrator-{uuid.uuid4().hex[:8]}",
        registry=REGISTRY,
        handlers=handlers,
        sessions=bos.sessions,
        outbox=bos.writer,
        guard=IdempotencyGuard(redis_client, key_prefix=settings.redis_key_prefix),
        publisher=publisher,
        poll_timeout_ms=100,
        # The dev broker delays a join by half the session timeout: keep both short.
        consumer_options={"heartbeat_interval_ms": 300, "session_timeout_ms": 3000},
    )
    stop = asyncio.Event()
    running = asyncio.create_task(loop.run(stop))
    try:
        for envelope in (surplus, ready, completed):  # every event delivered three times
            for _ in range(3):
                await publisher.publish(envelope)

        async def every_copy_consumed() -> bool:
            return consumed(loop.name, "huleedu_consumer_handled_total") == 3 and (
                consumed(loop.name, "huleedu_consumer_duplicates_skipped_total") == 6
            )

        await eventually(every_copy_consumed)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=60)
        await publisher.stop()

    final = await bos.batch(batch.batch_id)
    assert final.status is BatchStatus.READY
    assert (final.provisioned_count, final.failed_count, final.excess_count) == (2, 0, 1)
    snapshot = await bos.snapshot()
    assert [slot["text_id"] for slot in snapshot["batch_essays"]] == [TEXT_ID, TEXT_ID]
    assert snapshot["event_outbox"] == []


async def read_topic(
    bootstrap_servers: str, topic: str, count: int, *, within_s: float = 30
) -> list[ConsumerRecord[Any, Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        async with asyncio.timeout(within_s):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=200)
                for part in batch.values():
                    records.extend(part)
    finally:
        await consumer.stop()
    return records


async def test_the_relay_publishes_the_registration_to_its_topic(
    client: QuartClient, bos: Any
) -> None:
    settings = bos.settings
    topic = TopicNamer(settings.kafka_topic_prefix).topic(
        REGISTRY.spec_for_model(BatchEssaysRegistered).topic
    )
    await ensure_topics(settings.kafka_bootstrap_servers, [topic])
    response = await client.post(
        "/v1/batches",
        json={"user_id": "teacher-1", "expected_essay_count": 2, "course_code": "ENG5"},
    )
    assert response.status_code == 202
    batch_id = UUID((await response.get_json())["batch_id"])

    publisher = KafkaPublisher(settings, DEFINITION.registry)
    await publisher.start()
    try:
        relay = OutboxRelay(bos.engine, publisher, service_name=settings.service_name)
        assert await relay.drain_once() == 1
        assert await relay.drain_once() == 0
    finally:
        await publisher.stop()

    [row] = await bos.outbox_rows()
    assert row["published_at"] is not None
    [record] = await read_topic(settings.kafka_bootstrap_servers, topic, 1)
    assert record.key == str(batch_id).encode()
    assert dict(record.headers)["event_id"] == str(row["event_id"]).encode()
    envelope = REGISTRY.decode(record.value)
    assert isinstance(envelope.data, BatchEssaysRegistered)
    assert envelope.data.batch_id == batch_id
    assert envelope.data.essay_ids == await bos.essay_ids(batch_id)
