"""Two real worker processes assign the slots of one batch at the same time.

The file service keys its events by batch, which keeps one batch on one partition. Here a
producer keys the content by upload instead, so the batch's content is spread over every
partition and both `python -m essay_lifecycle worker` processes place content into the
same batch concurrently. Every event is also delivered three times. Each slot must be
filled exactly once, nothing may be surplus, and the batch must be ready exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from essay_lifecycle.models import essays
from sqlalchemy import func, select

from common_core.events import REGISTRY
from common_core.events.batch import BatchContentProvisioningCompleted, BatchEssaysReady
from common_core.events.essay import (
    EssayContentProvisioned,
    EssaySlotAssigned,
    ExcessContentProvisioned,
)
from common_core.events.registry import EventRegistry
from huleedu_service_libs.idempotency import inbox_table
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics

pytestmark = pytest.mark.integration

SLOTS = 25
PARTITIONS = 3
CONSUMER_GROUP = "essay_lifecycle"  # the worker's consumer group is its service name
_PARTITION = re.compile(r"topic='([^']+)', partition=(\d+)")


@dataclass
class Worker:
    """One `python -m essay_lifecycle worker` process and the JSON log lines it wrote."""

    process: asyncio.subprocess.Process
    lines: list[dict[str, Any]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                if isinstance(line, dict):
                    self.lines.append(line)

    def assigned(self, topic: str) -> set[int]:
        """The partitions of `topic` in the latest assignment this worker logged."""
        for line in reversed(self.lines):
            if line.get("event") == "partitions assigned":
                return {
                    int(partition)
                    for name, partition in _PARTITION.findall(" ".join(line["partitions"]))
                    if name == topic
                }
        return set()

    def placed_in_slots(self) -> int:
        return sum(
            1
            for line in self.lines
            if line.get("event") == "upload_placed" and line.get("placement") == "slot"
        )

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=60)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self.reader is not None:
            await self.reader
        return self.process.returncode if self.process.returncode is not None else -1


async def start_worker(settings) -> Worker:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "KAFKA_PARTITIONS": str(PARTITIONS),
        "LOG_LEVEL": "INFO",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "essay_lifecycle",
        "worker",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    worker = Worker(process)
    worker.reader = asyncio.create_task(worker.read())
    return worker


async def wait_until(condition, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def keyed_by_upload() -> EventRegistry:
    """The platform's registry, except that content is keyed by upload, not by batch."""
    return EventRegistry(
        replace(spec, key_field="file_upload_id")
        if spec.data_model is EssayContentProvisioned
        else spec
        for spec in REGISTRY
    )


def uploads_spread_over_partitions(count: int) -> list[uuid.UUID]:
    """Upload ids whose keys land on every partition in turn (by the producer's own hash)."""
    partitions = list(range(PARTITIONS))
    per_partition = -(-count // PARTITIONS)
    buckets: dict[int, list[uuid.UUID]] = {p: [] for p in partitions}
    while any(len(bucket) < per_partition for bucket in buckets.values()):
        upload_id = uuid.uuid4()
        partition = DefaultPartitioner()(str(upload_id).encode(), partitions, partitions)
        if len(buckets[partition]) < per_partition:
            buckets[partition].append(upload_id)
    return [upload for group in zip(*buckets.values(), strict=True) for upload in group][:count]


async def offsets_all_committed(settings, topic: str) -> bool:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=TopicNamer(settings.kafka_topic_prefix).group(CONSUMER_GROUP),
        enable_auto_commit=False,
    )
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        return all([await consumer.committed(tp) == ends[tp] for tp in partitions])
    finally:
        await consumer.stop()


async def test_two_worker_processes_fill_each_slot_exactly_once(els) -> None:
    settings = els.settings
    namer = TopicNamer(settings.kafka_topic_prefix)
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        [namer.topic(spec.topic) for spec in REGISTRY]
        + [namer.dead_letter(spec.topic) for spec in REGISTRY],
        partitions=PARTITIONS,
    )
    content_topic = namer.topic(REGISTRY.spec_for_model(EssayContentProvisioned).topic)
    registration = els.registered(slots=SLOTS)
    batch_id = registration.data.batch_id
    uploads = [
        els.content(batch_id, upload_id=upload_id)
        for upload_id in uploads_spread_over_partitions(SLOTS)
    ]
    publisher = KafkaPublisher(settings, keyed_by_upload())
    workers = [await start_worker(settings) for _ in range(2)]
    await publisher.start()
    try:

        async def content_partitions_split_between_both() -> bool:
            first, second = (worker.assigned(content_topic) for worker in workers)
            return bool(first) and bool(second) and not first & second

        await wait_until(content_partitions_split_between_both, "both workers to own content")
        owned = workers[0].assigned(content_topic) | workers[1].assigned(content_topic)
        assert owned == set(range(PARTITIONS))

        await publisher.publish(registration)

        async def registered() -> bool:
            return await els.batch(batch_id) is not None

        await wait_until(registered, "the registration to be consumed")

        for _ in range(3):
            for upload in uploads:
                await publisher.publish(upload)

        async def all_filled() -> bool:
            filled = await els.scalar(
                select(func.count())
                .select_from(essays)
                .where(essays.c.batch_id == batch_id, essays.c.file_upload_id.is_not(None))
            )
            return bool(filled == SLOTS)

        await wait_until(all_filled, f"{SLOTS} filled slots")
        await wait_until(
            lambda: offsets_all_committed(settings, content_topic),
            "every delivery to be consumed and committed",
        )
    finally:
        await publisher.stop()
        exit_codes = [await worker.stop() for worker in workers]

    assert exit_codes == [0, 0]
    slots = await els.slots(batch_id)
    assert sorted(str(row["file_upload_id"]) for row in slots) == sorted(
        str(u.data.file_upload_id) for u in uploads
    )
    assert await els.excess(batch_id) == []
    assert await els.pending(batch_id) == []
    assert len(await els.events(EssaySlotAssigned)) == SLOTS
    assert await els.events(ExcessContentProvisioned) == []
    [ready] = await els.events(BatchEssaysReady)
    assert len(ready["ready_essays"]) == SLOTS
    assert len(await els.events(BatchContentProvisioningCompleted)) == 1
    assert await els.scalar(select(func.count()).select_from(inbox_table)) == SLOTS + 1
    # Both processes really placed content into this batch.
    assert all(worker.placed_in_slots() > 0 for worker in workers), [
        worker.placed_in_slots() for worker in workers
    ]
