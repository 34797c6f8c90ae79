"""BOS as real processes (`python -m batch_orchestrator migrate|http|worker`), as the platform
starts it: a registration over HTTP reaches Kafka through the worker's relay, and an intake
outcome published on Kafka reaches the batch's status through the worker's consumer. The
worker's own /metrics (METRICS_PORT) shows what its relay and consumer did.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from common_core.events import REGISTRY
from common_core.events.base import EssayTextRef
from common_core.events.batch import BatchEssaysReady, BatchEssaysRegistered
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment(settings: Any, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "ENVIRONMENT": "test",
    }


@asynccontextmanager
async def process(
    role: str, env: dict[str, str], logs: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A BOS process; stopped with SIGTERM, which must end it cleanly (exit code 0)."""
    log_path = logs / f"{role}.log"
    with log_path.open("wb") as log:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "batch_orchestrator", role, env=env, stdout=log, stderr=log
        )
        try:
            yield child
        finally:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(child.wait(), timeout=30)
            except TimeoutError:
                child.kill()
                await child.wait()
                raise
    assert code == 0, f"{role} exited with {code}:\n{log_path.read_text()[-4000:]}"


async def wait_for_http(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http, asyncio.timeout(60):
        while True:
            try:
                if (await http.get("/healthz/live")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def test_registration_and_intake_flow_through_the_real_processes(
    bos_settings: Any, tmp_path: Path
) -> None:
    port = free_port()
    env = environment(bos_settings, port)
    metrics_port = free_port()
    worker_env = {**env, "METRICS_PORT": str(metrics_port)}
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "batch_orchestrator", "migrate", env=env
    )
    assert await asyncio.wait_for(migrate.wait(), timeout=120) == 0

    topics = TopicNamer(bos_settings.kafka_topic_prefix)
    registered_topic = topics.topic(REGISTRY.spec_for_model(BatchEssaysRegistered).topic)
    base_url = f"http://127.0.0.1:{port}"
    async with process("http", env, tmp_path), process("worker", worker_env, tmp_path):
        await wait_for_http(base_url)
        await wait_for_http(f"http://127.0.0.1:{metrics_port}")
        async with httpx.AsyncClient(base_url=base_url) as http:
            response = await http.post(
                "/v1/batches",
                json={"user_id": "teacher-1", "expected_essay_count": 1, "course_code": "SV2"},
            )
            assert response.status_code == 202
            batch_id = UUID(response.json()["batch_id"])

            # The worker creates every topic at start; its relay publishes the registration.
            consumer = AIOKafkaConsumer(
                registered_topic,
                bootstrap_servers=bos_settings.kafka_bootstrap_servers,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                group_id=None,
            )
            await consumer.start()
            try:
                async with asyncio.timeout(60):
                    record = await consumer.getone()
            finally:
                await consumer.stop()
            event = REGISTRY.decode(record.value).data
            assert isinstance(event, BatchEssaysRegistered)
            assert (event.batch_id, event.language) == (batch_id, "sv")

            publisher = KafkaPublisher(bos_settings, REGISTRY)
            await publisher.start()
            try:
                await publisher.publish(
                    REGISTRY.envelope(
                        BatchEssaysReady(
                            batch_id=batch_id,
                            ready_essays=[
                                EssayTextRef(essay_id=event.essay_ids[0], text_id="d" * 64)
                            ],
                        ),
                        source_service="essay_lifecycle",
                    )
                )
            finally:
                await publisher.stop()

            async with asyncio.timeout(60):
                while True:
                    view = (await http.get(f"/v1/batches/{batch_id}")).json()
                    if view["client_status"] == "ready":
                        break
                    await asyncio.sleep(0.1)

        await assert_worker_metrics(f"http://127.0.0.1:{metrics_port}")


async def assert_worker_metrics(base_url: str) -> None:
    """The worker's registry: its relay published, its consumer handled and reports its lag,
    and nothing waits on the dead-letter topics of what it consumes."""
    handled = 'huleedu_consumer_handled_total{consumer="batch_orchestrator",'
    async with httpx.AsyncClient(base_url=base_url) as http, asyncio.timeout(60):
        while True:
            # The offset commit (and the next poll's lag) follows the handled transaction.
            text = (await http.get("/metrics")).text
            if all(
                wanted in text
                for wanted in (
                    handled,
                    'huleedu_consumer_lag{consumer="batch_orchestrator"',
                    "huleedu_dead_letters_waiting{",
                )
            ):
                break
            await asyncio.sleep(0.2)
        live = await http.get("/healthz/live")
    assert live.json() == {"status": "live", "process": "worker"}
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    service = (("service", "batch_orchestrator"),)
    assert samples["huleedu_outbox_relay_leader", service] == 1
    assert samples["huleedu_outbox_published_total", service] >= 1
    assert samples["huleedu_outbox_publish_latency_seconds_count", service] >= 1
    waiting = [v for (name, _), v in samples.items() if name == "huleedu_dead_letters_waiting"]
    assert waiting
    assert set(waiting) == {0}
