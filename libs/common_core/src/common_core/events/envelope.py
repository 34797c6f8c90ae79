"""The one envelope every Kafka message travels in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

DataT = TypeVar("DataT", bound=BaseModel)


class EventMetadata(BaseModel):
    """Trace context carried with an event (W3C `traceparent`/`tracestate`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    traceparent: str | None = None
    tracestate: str | None = None


class EventEnvelope(BaseModel, Generic[DataT]):
    """A message on the bus: identity, provenance and a typed payload.

    `event_id` is stable across redeliveries and republishing; consumers de-duplicate on it.
    """

    model_config = ConfigDict(frozen=True)

    event_id: UUID = Field(default_factory=uuid4)
    event_type: str
    event_timestamp: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    source_service: str
    correlation_id: UUID = Field(default_factory=uuid4)
    schema_version: int = 1
    data: DataT
    metadata: EventMetadata = Field(default_factory=EventMetadata)


class RawEnvelope(BaseModel):
    """An envelope whose payload is not yet validated against its contract."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    event_type: str
    event_timestamp: AwareDatetime
    source_service: str
    correlation_id: UUID
    schema_version: int = 1
    data: dict[str, Any]
    metadata: EventMetadata = Field(default_factory=EventMetadata)
