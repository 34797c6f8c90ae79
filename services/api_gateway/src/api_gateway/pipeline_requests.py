"""Publishing a teacher's pipeline request: straight to Kafka, answered only after the ack.

The gateway keeps no database and so has no outbox: the request is published directly and the
client hears 202 only once the broker has acknowledged it, or 503 if that did not happen in
time (nothing is then promised; the client may ask again). The producer is the container's
shared `KafkaPublisher`, fetched on first use rather than at startup, so the gateway starts and
serves its other routes while the broker is down; a failed connection is retried on the next
request. The topic is ensured once per process before the first publish, because a fresh
broker may not have it yet and aiokafka would wait for its metadata until the timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from uuid import UUID

from common_core.errors import ErrorCode
from common_core.events import REGISTRY, ClientBatchPipelineRequest
from common_core.events.envelope import EventEnvelope, EventMetadata
from common_core.status import PhaseName
from huleedu_service_libs.http import HttpError
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import ensure_topics
from huleedu_service_libs.logging import (
    current_correlation_id,
    get_logger,
    traceparent_for_current_context,
)
from huleedu_service_libs.settings import ServiceSettings

_log = get_logger(__name__)

PIPELINE_REQUEST_TOPIC = REGISTRY.spec_for_model(ClientBatchPipelineRequest).topic


class PipelineRequestPublisher:
    """Sends `ClientBatchPipelineRequest`s on behalf of the current HTTP request."""

    def __init__(
        self,
        publisher: Callable[[], Awaitable[KafkaPublisher]],
        settings: ServiceSettings,
        *,
        timeout_seconds: float,
    ) -> None:
        self._publisher = publisher
        self._settings = settings
        self._timeout = timeout_seconds
        self._topic_ensured = False

    async def request(self, batch_id: UUID, pipeline: PhaseName, teacher_id: str) -> UUID:
        """Publish the request under the current correlation id (returned) and await the ack;
        a 503 `service_unavailable` if the broker did not acknowledge within the timeout."""
        correlation_id = current_correlation_id()
        envelope = REGISTRY.envelope(
            ClientBatchPipelineRequest(
                batch_id=batch_id, requested_pipeline=pipeline, user_id=teacher_id
            ),
            source_service=self._settings.service_name,
            correlation_id=correlation_id,
            metadata=EventMetadata(traceparent=traceparent_for_current_context()),
        )
        try:
            await asyncio.wait_for(self._publish(envelope), timeout=self._timeout)
        except Exception as error:  # any failure means the request was not accepted
            _log.warning(
                "pipeline_request_not_published",
                batch_id=str(batch_id),
                pipeline=pipeline.value,
                error=repr(error),
            )
            raise HttpError(
                503,
                ErrorCode.SERVICE_UNAVAILABLE,
                "the pipeline request could not be queued; try again",
            ) from error
        _log.info(
            "pipeline_requested",
            batch_id=str(batch_id),
            pipeline=pipeline.value,
            event_id=str(envelope.event_id),
        )
        return correlation_id

    async def _publish(self, envelope: EventEnvelope[ClientBatchPipelineRequest]) -> None:
        publisher = await self._publisher()
        if not self._topic_ensured:
            await ensure_topics(
                self._settings.kafka_bootstrap_servers,
                [publisher.topics.topic(PIPELINE_REQUEST_TOPIC)],
                partitions=self._settings.kafka_partitions,
            )
            self._topic_ensured = True
        await publisher.publish(envelope)
