"""llm_provider's HTTP API and its Kafka intake on the run's broker, end to end."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from llm_provider.handlers import event_handlers
from llm_provider.service import DEFINITION
from lps_harness import Lps, comparison_request, eventually  # type: ignore[import-not-found]
from quart.testing import QuartClient

from common_core.events import REGISTRY
from common_core.events.llm import LLMComparisonRequest, LLMComparisonResult
from huleedu_service_libs.idempotency import IdempotencyGuard
from huleedu_service_libs.kafka.consumer import ConsumerLoop
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.outbox import OutboxRelay
from huleedu_service_libs.testing.services import http_test_client

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(lps: Lps) -> AsyncIterator[QuartClient]:
    async with http_test_client(DEFINITION, lps.settings) as test_client:
        yield test_client


async def test_post_queues_once_and_get_shows_the_real_state_and_result(
    client: QuartClient, lps: Lps
) -> None:
    request = comparison_request()
    body = request.model_dump(mode="json")
    for _ in range(2):  # posting the same request again queues nothing new
        response = await client.post("/v1/comparisons", json=body)
        assert response.status_code == 202
        assert await response.get_json() == {"request_id": str(request.request_id)}
    assert await lps.queue.members() == [request.request_id]

    queued = await (await client.get(f"/v1/comparisons/{request.request_id}")).get_json()
    assert (queued["state"], queued["result"]) == ("queued", None)

    popped = await lps.queue.pop(1.0)
    assert popped is not None
    assert await lps.worker().process(popped)

    done = await (await client.get(f"/v1/comparisons/{request.request_id}")).get_json()
    assert done["state"] == "done"
    result = LLMComparisonResult.model_validate(done["result"])
    assert result.request_id == request.request_id
    assert result.winner is not None
    assert lps.provider.calls == Counter({request.request_id: 1})

    costs = await (await client.get(f"/v1/batches/{request.batch_id}/costs")).get_json()
    assert costs["requests"] == 1
    assert costs["by_model"][0]["input_tokens"] == result.input_tokens > 0


async def test_unknown_ids_and_invalid_requests_are_rejected(client: QuartClient) -> None:
    missing = await client.get(f"/v1/comparisons/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert (await missing.get_json())["code"] == "not_found"
    body = comparison_request().model_dump(mode="json")
    body["essay_b_id"] = body["essay_a_id"]
    invalid = await client.post("/v1/comparisons", json=body)
    assert invalid.status_code == 400


async def read_topic(servers: str, topic: str, count: int) -> list[ConsumerRecord[Any, Any]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=servers, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        async with asyncio.timeout(60):
            while len(records) < count:
                for part in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(part)
    finally:
        await consumer.stop()
    return records


async def test_request_events_through_the_consumer_loop_get_one_callback_each(lps: Lps) -> None:
    settings = lps.settings
    namer = TopicNamer(settings.kafka_topic_prefix)
    request_topic = namer.topic(REGISTRY.spec_for_model(LLMComparisonRequest).topic)
    private_callback = f"cj_assessment.callbacks.{uuid.uuid4().hex[:6]}"
    await ensure_topics(settings.kafka_bootstrap_servers, [request_topic])

    registered = comparison_request()
    private = comparison_request(callback_topic=private_callback)
    publisher = KafkaPublisher(settings, REGISTRY)
    await publisher.start()
    stop = asyncio.Event()
    loop = ConsumerLoop(
        settings,
        consumer_name=f"llm_provider-{uuid.uuid4().hex[:8]}",
        registry=REGISTRY,
        handlers=event_handlers(lps.queue),
        sessions=lps.sessions,
        outbox=lps.callbacks.writer_for(lps.callbacks.registered_topic),
        guard=IdempotencyGuard(lps.redis, key_prefix=settings.redis_key_prefix),
        publisher=publisher,
        poll_timeout_ms=100,
    )
    tasks = [
        asyncio.create_task(loop.run(stop)),
        asyncio.create_task(lps.worker().run(stop)),
        asyncio.create_task(
            OutboxRelay(
                lps.engine, publisher, service_name=settings.service_name, poll_interval_s=0.1
            ).run(stop)
        ),
    ]
    try:
        for request in (registered, private):
            envelope = REGISTRY.envelope(request, source_service="cj_assessment")
            for _ in range(3):  # the same event three times, and once more as a new event
                await publisher.publish(envelope)
            await publisher.publish(REGISTRY.envelope(request, source_service="cj_assessment"))

        async def both_answered() -> bool:
            return bool(await lps.callback_count() >= 2)

        await eventually(both_answered)
        registered_records = await read_topic(
            settings.kafka_bootstrap_servers,
            namer.topic(REGISTRY.spec_for_model(LLMComparisonResult).topic),
            1,
        )
        private_records = await read_topic(
            settings.kafka_bootstrap_servers, namer.topic(private_callback), 1
        )
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
        await publisher.stop()

    assert await lps.callback_count() == 2
    assert lps.provider.calls == Counter({registered.request_id: 1, private.request_id: 1})
    for records, request in ((registered_records, registered), (private_records, private)):
        [record] = records
        envelope = REGISTRY.decode(record.value)
        assert isinstance(envelope.data, LLMComparisonResult)
        assert envelope.data.request_id == request.request_id
        assert record.key == str(request.batch_id).encode()
