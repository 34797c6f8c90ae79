"""Outbox writers addressed to each request's `callback_topic`.

The shared OutboxWriter takes the topic from a registry by event type. A request whose
callback topic is the registered one uses the service's writer; any other callback topic gets
a writer over a one-entry registry (same event type and payload model, that topic), so the
relay publishes where the requester listens without a second outbox code path.
"""

from __future__ import annotations

from dataclasses import replace

from common_core.events.llm import LLMComparisonResult
from common_core.events.registry import EventRegistry
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.outbox.writer import OutboxWriter


class CallbackWriters:
    def __init__(self, registry: EventRegistry, topics: TopicNamer, source_service: str) -> None:
        self._spec = registry.spec_for_model(LLMComparisonResult)
        self._topics = topics
        self._source_service = source_service
        self._writers: dict[str, OutboxWriter] = {
            self._spec.topic: OutboxWriter(registry, topics, source_service)
        }

    @property
    def registered_topic(self) -> str:
        return self._spec.topic

    def deployed_topic(self, callback_topic: str) -> str:
        return self._topics.topic(callback_topic)

    def writer_for(self, callback_topic: str) -> OutboxWriter:
        writer = self._writers.get(callback_topic)
        if writer is None:
            registry = EventRegistry([replace(self._spec, topic=callback_topic)])
            writer = OutboxWriter(registry, self._topics, self._source_service)
            self._writers[callback_topic] = writer
        return writer
