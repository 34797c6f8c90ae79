"""`python -m spellchecker worker` for real: a request on the broker, delivered twice, gives
one stored corrected text and one published result."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from common_core.events import REGISTRY
from common_core.events.spellcheck import SpellcheckResult
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.settings import ServiceSettings

pytestmark = pytest.mark.integration

ESSAY = (Path(__file__).parents[3] / "sample" / "essays" / "essay_11.txt").read_text("utf-8")


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_worker_process_reports_a_twice_published_request_once(
    spellchecker_factory, spellcheck_request
) -> None:
    async with spellchecker_factory() as checker:
        settings = checker.settings
        request = spellcheck_request(await checker.store(ESSAY))
        topic = TopicNamer(settings.kafka_topic_prefix).topic(
            REGISTRY.spec(request.event_type).topic
        )
        await ensure_topics(settings.kafka_bootstrap_servers, [topic], partitions=1)
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "REDIS_KEY_PREFIX": settings.redis_key_prefix,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "KAFKA_PARTITIONS": "1",
            "CONTENT_SERVICE_URL": checker.content_url,
            "EXTRA_ALLOWLIST": json.dumps(["kompis"]),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "spellchecker",
            "worker",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            publisher = KafkaPublisher(settings, REGISTRY)
            await publisher.start()
            try:
                await publisher.publish(request)
                await publisher.publish(request)
            finally:
                await publisher.stop()

            async def published() -> bool:
                rows = await checker.outbox_rows()
                return bool(rows) and all(r["published_at"] is not None for r in rows)

            await wait_until(published, "the result to be published")
            await wait_until(
                lambda: _committed_past(settings, topic, 2), "both copies to be consumed"
            )
        finally:
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), timeout=60) == 0

        [row] = await checker.outbox_rows()
        result = REGISTRY.decode(row["payload"]).data
        assert isinstance(result, SpellcheckResult)
        assert result.essay_id == request.data.essay_id
        assert result.corrected_text_id is not None
        assert result.total_corrections > 0
        assert len(await checker.jobs()) == 1
        stored = await checker.fetch(result.corrected_text_id)
        assert stored.status_code == 200


async def _committed_past(settings: ServiceSettings, topic: str, offset: int) -> bool:
    """The worker's consumer group committed its offset at or past `offset`."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=TopicNamer(settings.kafka_topic_prefix).group("spellchecker"),
    )
    await consumer.start()
    try:
        committed = await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()
    return committed is not None and committed >= offset
