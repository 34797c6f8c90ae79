"""The worker's job: the outbox rows an upload wrote reach Kafka, one message per file."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from file_service.service import DEFINITION
from file_service_harness import TEACHER, BatchOrchestrator, FileService  # type: ignore[import-not-found]
from pydantic import BaseModel

from common_core.events import REGISTRY
from common_core.events.essay import EssayContentProvisioned, EssayValidationFailed
from huleedu_service_libs.database import create_engine
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.outbox import OutboxRelay
from huleedu_service_libs.testing.documents import ESSAY

pytestmark = pytest.mark.integration


def test_the_worker_relays_the_outbox_and_consumes_nothing() -> None:
    assert DEFINITION.handlers is None
    assert DEFINITION.metadata is not None
    assert "event_outbox" in DEFINITION.metadata.tables


async def test_relay_publishes_one_message_per_file_keyed_by_batch(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register()
    async with file_service.client() as client:
        response = await client.post(
            "/v1/files/batch",
            data={"batch_id": str(batch_id)},
            files=[("files", ("good.txt", ESSAY.encode())), ("files", ("bad.txt", b"short"))],
            headers={"X-User-ID": TEACHER},
        )
    assert response.status_code == 202, response.text
    upload_ids = {outcome["file_upload_id"] for outcome in response.json()["files"]}

    settings = file_service.settings
    topics = TopicNamer(settings.kafka_topic_prefix)
    names = [
        topics.topic(REGISTRY.spec_for_model(model).topic)
        for model in (EssayContentProvisioned, EssayValidationFailed)
    ]
    await ensure_topics(settings.kafka_bootstrap_servers, names, partitions=1)
    publisher = KafkaPublisher(settings, REGISTRY)
    await publisher.start()
    engine = create_engine(settings.database_url)
    try:
        relay = OutboxRelay(engine, publisher, service_name=settings.service_name)
        assert await relay.drain_once() == 2
    finally:
        await publisher.stop()
        await engine.dispose()

    records = await _read(settings.kafka_bootstrap_servers, names, count=2)
    assert len(records) == 2
    assert {record.key for record in records} == {str(batch_id).encode()}
    envelopes = [REGISTRY.decode(record.value) for record in records]
    event_models: set[type[BaseModel]] = {type(envelope.data) for envelope in envelopes}
    expected: set[type[BaseModel]] = {EssayContentProvisioned, EssayValidationFailed}
    assert event_models == expected
    assert {str(envelope.data.file_upload_id) for envelope in envelopes} == upload_ids  # type: ignore[attr-defined]
    assert all(row["published_at"] is not None for row in await file_service.outbox())


async def _read(bootstrap_servers: str, topics: list[str], *, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                for part in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(part)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return records
