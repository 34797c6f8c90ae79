"""How many dead letters wait for a replay, per topic: `huleedu_dead_letters_waiting`.

The consumer loop counts what it dead-letters (`huleedu_consumer_dead_lettered_total`), but
only the topic itself knows what is still parked: the replay tool (tools/replay_dead_letters.py)
commits its progress in the consumer group `replay-<topic>`, so the records not replayed yet
are the dead-letter topic's end offsets minus that group's committed offsets (its start
offsets, before any replay or once retention deleted older records). Every worker measures the
dead-letter topics of what it consumes; several consumers of one topic share its dead-letter
topic and report the same number.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import Gauge

from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.logging import get_logger
from huleedu_service_libs.settings import ServiceSettings

logger = get_logger(__name__)

WAITING = Gauge(
    "huleedu_dead_letters_waiting",
    "Records on the dead-letter topic of `topic` not replayed yet (end offsets minus the replay"
    " group's committed offsets).",
    ["topic"],
)


def waiting(end: int, start: int, replayed_to: int | None) -> int:
    """Records of one partition after the replay group's position (or its start)."""
    resume_at = start if replayed_to is None or replayed_to < start else replayed_to
    return max(0, end - resume_at)


class DeadLetterDepth:
    """Measures the dead-letter topics of `logical_topics` every `interval_s` until stopped."""

    def __init__(
        self, settings: ServiceSettings, logical_topics: Iterable[str], *, interval_s: float = 60
    ) -> None:
        self._settings = settings
        self._namer = TopicNamer(settings.kafka_topic_prefix)
        self._topics = sorted(set(logical_topics))
        self._interval_s = interval_s

    async def run(self, stop: asyncio.Event) -> None:
        """Measure until stopped; an unreachable broker is retried, never ends the worker."""
        if not self._topics:
            return
        try:
            while not stop.is_set():
                try:
                    await self._measure_until(stop)
                except (KafkaError, OSError, TimeoutError) as exc:
                    logger.warning("dead-letter depth not measured", error=repr(exc))
                    await self._pause(stop)
        finally:
            for topic in self._topics:
                with contextlib.suppress(KeyError):
                    WAITING.remove(topic)

    async def _measure_until(self, stop: asyncio.Event) -> None:
        servers = self._settings.kafka_bootstrap_servers
        client_id = f"{self._settings.client_id}.dead-letter-depth"
        admin = AIOKafkaAdminClient(bootstrap_servers=servers, client_id=client_id)
        consumer = AIOKafkaConsumer(bootstrap_servers=servers, client_id=client_id, group_id=None)
        try:
            await admin.start()
            await consumer.start()
            while not stop.is_set():
                for topic, count in (await self.measure(admin, consumer)).items():
                    WAITING.labels(topic).set(count)
                await self._pause(stop)
        finally:
            await consumer.stop()
            await admin.close()

    async def _pause(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self._interval_s)

    async def measure(
        self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer
    ) -> dict[str, int]:
        """Records waiting on each topic's dead-letter topic, by logical topic."""
        dead_letter_topics = {self._namer.dead_letter(t): t for t in self._topics}
        described = await admin.describe_topics(list(dead_letter_topics))
        partitions = {
            topic["topic"]: [
                TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]
            ]
            for topic in described
            if not topic["error_code"]
        }
        every = [tp for tps in partitions.values() for tp in tps]
        if not every:
            return {}
        ends = await consumer.end_offsets(every)
        starts = await consumer.beginning_offsets(every)
        counts: dict[str, int] = {}
        for dead_letter_topic, tps in partitions.items():
            logical_topic = dead_letter_topics[dead_letter_topic]
            replayed = await admin.list_consumer_group_offsets(
                self._namer.group(f"replay-{logical_topic}"), partitions=tps
            )
            counts[logical_topic] = sum(
                waiting(
                    ends[tp],
                    starts[tp],
                    replayed[tp].offset if tp in replayed and replayed[tp].offset >= 0 else None,
                )
                for tp in tps
            )
        return counts
