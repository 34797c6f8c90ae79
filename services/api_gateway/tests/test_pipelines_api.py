"""`POST /v1/batches/{id}/pipelines` against the stand-in BOS and this run's real broker: an
accepted request is exactly one `ClientBatchPipelineRequest` keyed by the batch; a batch that
cannot start one, another teacher's batch, an unknown pipeline and an unreachable broker are
refused with their codes and publish nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from api_gateway.pipeline_requests import PIPELINE_REQUEST_TOPIC
from api_gateway.settings import GatewaySettings
from gateway_harness import bearer, gateway_client  # type: ignore[import-not-found]
from quart.testing import QuartClient

from common_core.events import REGISTRY, ClientBatchPipelineRequest
from common_core.status import BatchStatus, PhaseName
from huleedu_service_libs.kafka.topics import ensure_topics
from huleedu_service_libs.local_infra.probes import free_port

pytestmark = pytest.mark.integration

PARTITIONS = 3


@dataclass(frozen=True)
class PipelineGateway:
    client: QuartClient
    settings: GatewaySettings
    topic: str


@pytest.fixture
async def pipeline_gateway(
    gateway_settings_factory: Callable[..., GatewaySettings], topic_prefix: str
) -> AsyncIterator[PipelineGateway]:
    """The gateway publishing under a topic prefix of its own, so this test's topic holds only
    what this test's requests published."""
    settings = gateway_settings_factory(
        kafka_topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:8]}.", kafka_partitions=PARTITIONS
    )
    async with gateway_client(settings) as client:
        yield PipelineGateway(
            client, settings, f"{settings.kafka_topic_prefix}{PIPELINE_REQUEST_TOPIC}"
        )


async def ready_batch(client: QuartClient, teacher: str, stand_ins: Any) -> uuid.UUID:
    """A batch of `teacher` that BOS reports as ready."""
    response = await client.post(
        "/v1/batches/register",
        json={"expected_essay_count": 2, "course_code": "ENG5"},
        headers=bearer(teacher),
    )
    assert response.status_code == 202, await response.get_data()
    batch_id = uuid.UUID((await response.get_json())["batch_id"])
    stand_ins.platform.batches[batch_id].status = BatchStatus.READY
    return batch_id


async def published(bootstrap_servers: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on `topic` (created if missing, so that "none" is a real answer)."""
    await ensure_topics(bootstrap_servers, [topic], partitions=PARTITIONS)
    consumer: AIOKafkaConsumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False
    )
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    await consumer.start()
    try:
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def request_pipeline(
    client: QuartClient,
    teacher: str,
    batch_id: uuid.UUID,
    pipeline: str = "spellcheck",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        f"/v1/batches/{batch_id}/pipelines",
        json={"requested_pipeline": pipeline},
        headers={**bearer(teacher), **(headers or {})},
    )
    body: dict[str, Any] = await response.get_json()
    return response.status_code, body


@pytest.mark.parametrize("status", [BatchStatus.READY, BatchStatus.COMPLETED_WITH_FAILURES])
async def test_an_accepted_request_is_one_acknowledged_event_keyed_by_the_batch(
    pipeline_gateway: PipelineGateway, teacher: str, stand_ins: Any, status: BatchStatus
) -> None:
    batch_id = await ready_batch(pipeline_gateway.client, teacher, stand_ins)
    stand_ins.platform.batches[batch_id].status = status
    correlation_id = uuid.uuid4()

    code, body = await request_pipeline(
        pipeline_gateway.client,
        teacher,
        batch_id,
        "cj_assessment",
        headers={"X-Correlation-ID": str(correlation_id)},
    )

    assert code == 202, body
    assert body == {
        "status": "accepted",
        "batch_id": str(batch_id),
        "correlation_id": str(correlation_id),
    }
    records = await published(
        pipeline_gateway.settings.kafka_bootstrap_servers, pipeline_gateway.topic
    )
    assert len(records) == 1
    record = records[0]
    assert record.key == str(batch_id).encode()
    envelope = REGISTRY.decode(record.value)
    assert envelope.data == ClientBatchPipelineRequest(
        batch_id=batch_id, requested_pipeline=PhaseName.CJ_ASSESSMENT, user_id=teacher
    )
    assert envelope.correlation_id == correlation_id
    assert envelope.source_service == "api_gateway"
    assert envelope.metadata.traceparent
    headers = {key: value.decode() for key, value in record.headers}
    assert headers["event_id"] == str(envelope.event_id)
    assert headers["correlation_id"] == str(correlation_id)
    assert headers["traceparent"] == envelope.metadata.traceparent


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (BatchStatus.AWAITING_CONTENT, "batch is not ready: content is still arriving"),
        (BatchStatus.PROCESSING, "a pipeline is already running"),
        (BatchStatus.FAILED, "batch is failed: no pipeline can run"),
        (BatchStatus.CANCELLED, "batch is cancelled: no pipeline can run"),
    ],
)
async def test_a_batch_that_cannot_start_a_pipeline_is_409_with_the_reason_and_publishes_nothing(
    pipeline_gateway: PipelineGateway,
    teacher: str,
    stand_ins: Any,
    status: BatchStatus,
    message: str,
) -> None:
    batch_id = await ready_batch(pipeline_gateway.client, teacher, stand_ins)
    stand_ins.platform.batches[batch_id].status = status

    code, body = await request_pipeline(pipeline_gateway.client, teacher, batch_id)

    assert code == 409
    assert body["code"] == "conflict"
    assert body["message"] == message
    assert body["details"]["status"] == status.value
    assert (
        await published(pipeline_gateway.settings.kafka_bootstrap_servers, pipeline_gateway.topic)
        == []
    )


async def test_another_teacher_s_batch_is_404_and_publishes_nothing(
    pipeline_gateway: PipelineGateway, teacher: str, stand_ins: Any
) -> None:
    batch_id = await ready_batch(pipeline_gateway.client, teacher, stand_ins)

    code, body = await request_pipeline(pipeline_gateway.client, f"{teacher}-other", batch_id)

    assert code == 404
    assert body["code"] == "not_found"
    code, _ = await request_pipeline(pipeline_gateway.client, teacher, uuid.uuid4())
    assert code == 404
    assert (
        await published(pipeline_gateway.settings.kafka_bootstrap_servers, pipeline_gateway.topic)
        == []
    )


@pytest.mark.parametrize(
    "body",
    [
        {"requested_pipeline": "grammar"},
        {"requested_pipeline": ""},
        {"requested_pipeline": None},
        {},
        {"pipeline": "spellcheck"},
    ],
)
async def test_an_unknown_pipeline_is_400_and_never_reaches_bos(
    pipeline_gateway: PipelineGateway, teacher: str, stand_ins: Any, body: dict[str, Any]
) -> None:
    batch_id = await ready_batch(pipeline_gateway.client, teacher, stand_ins)
    reads_before = len(stand_ins.platform.requests_to("batch_orchestrator"))

    response = await pipeline_gateway.client.post(
        f"/v1/batches/{batch_id}/pipelines", json=body, headers=bearer(teacher)
    )

    assert response.status_code == 400
    assert (await response.get_json())["code"] == "validation_error"
    assert len(stand_ins.platform.requests_to("batch_orchestrator")) == reads_before
    assert (
        await published(pipeline_gateway.settings.kafka_bootstrap_servers, pipeline_gateway.topic)
        == []
    )


async def test_without_a_token_the_request_is_401(
    pipeline_gateway: PipelineGateway, stand_ins: Any
) -> None:
    response = await pipeline_gateway.client.post(
        f"/v1/batches/{uuid.uuid4()}/pipelines", json={"requested_pipeline": "spellcheck"}
    )
    assert response.status_code == 401


async def test_an_unreachable_broker_is_503_and_nothing_is_published(
    gateway_settings_factory: Callable[..., GatewaySettings],
    topic_prefix: str,
    teacher: str,
    stand_ins: Any,
) -> None:
    prefix = f"{topic_prefix}{uuid.uuid4().hex[:8]}."
    reachable = gateway_settings_factory(kafka_topic_prefix=prefix)
    unreachable = gateway_settings_factory(
        kafka_topic_prefix=prefix,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        pipeline_publish_timeout_seconds=5.0,
    )
    async with gateway_client(unreachable) as client:
        batch_id = await ready_batch(client, teacher, stand_ins)

        code, body = await request_pipeline(client, teacher, batch_id)
        assert code == 503
        assert body["code"] == "service_unavailable"
        code, body = await request_pipeline(client, teacher, batch_id)
        assert code == 503, "a failed connection is retried, and fails again"

        ready = await client.get("/healthz/ready")
        assert ready.status_code == 503
        assert (await ready.get_json())["checks"]["kafka"].startswith("failed")

    assert (
        await published(reachable.kafka_bootstrap_servers, f"{prefix}{PIPELINE_REQUEST_TOPIC}")
        == []
    )
