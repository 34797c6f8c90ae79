"""The one Kafka producer wrapper: acknowledged sends with keys and headers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer

from common_core.events.envelope import EventEnvelope
from common_core.events.registry import EventRegistry, encode
from huleedu_service_libs.kafka.headers import kafka_headers
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.settings import ServiceSettings


def _header_list(headers: Mapping[str, str]) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in headers.items()]


class KafkaPublisher:
    """Sends records and resolves only once the broker acknowledged them."""

    def __init__(self, settings: ServiceSettings, registry: EventRegistry) -> None:
        self._settings = settings
        self._registry = registry
        self.topics = TopicNamer(settings.kafka_topic_prefix)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=settings.client_id,
            acks="all" if settings.kafka_acks == "all" else int(settings.kafka_acks),
            enable_idempotence=settings.kafka_enable_idempotence,
            request_timeout_ms=settings.kafka_request_timeout_ms,
            linger_ms=settings.kafka_linger_ms,
        )

    async def start(self) -> None:
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()  # a failed start still holds a client and its sockets
            raise

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None,
        headers: Mapping[str, str],
    ) -> asyncio.Future[Any]:
        """Queue a record; the returned future resolves on the broker's ack."""
        future: asyncio.Future[Any] = await self._producer.send(
            topic,
            value=value,
            key=key.encode() if key is not None else None,
            headers=_header_list(headers),
        )
        return future

    async def publish(self, envelope: EventEnvelope[Any]) -> None:
        """Publish an envelope directly and wait for the ack.

        Only for services with no database (the gateway's client commands); services with
        state publish through the outbox.
        """
        spec = self._registry.spec(envelope.event_type)
        future = await self.send(
            self.topics.topic(spec.topic),
            encode(envelope),
            key=spec.key_for(envelope.data),
            headers=kafka_headers(envelope),
        )
        await future

    async def flush(self) -> None:
        await self._producer.flush()
