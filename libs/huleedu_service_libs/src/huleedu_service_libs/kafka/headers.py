"""Kafka record headers derived from an envelope."""

from __future__ import annotations

from typing import Any

from common_core.events.envelope import EventEnvelope


def kafka_headers(envelope: EventEnvelope[Any]) -> dict[str, str]:
    """Headers every published event carries: a stable event id and the trace context."""
    headers = {
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type,
        "correlation_id": str(envelope.correlation_id),
    }
    if envelope.metadata.traceparent:
        headers["traceparent"] = envelope.metadata.traceparent
    if envelope.metadata.tracestate:
        headers["tracestate"] = envelope.metadata.tracestate
    return headers
