"""The single registry of event types: topic, payload contract and partition key.

Every producer and consumer resolves topics and keys here, so a topic name is written once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

from pydantic import BaseModel

from common_core.events.envelope import EventEnvelope, EventMetadata, RawEnvelope

ModelT = TypeVar("ModelT", bound=BaseModel)


class UnknownEventTypeError(LookupError):
    """An event type (or payload model) that the registry does not know."""


def topic_name(domain: str, event: str, version: int = 1) -> str:
    """`huleedu.<domain>.<event>.v<N>`: the one naming rule for topics."""
    return f"huleedu.{domain}.{event}.v{version}"


@dataclass(frozen=True)
class EventSpec:
    """How one event type travels: its topic, its payload model and its Kafka key."""

    event_type: str
    topic: str
    data_model: type[BaseModel]
    key_field: str | None
    description: str

    def key_for(self, data: BaseModel) -> str | None:
        """The partition key: the value of `key_field` in the payload (e.g. the batch id)."""
        if self.key_field is None:
            return None
        value = getattr(data, self.key_field)
        return None if value is None else str(value)


class EventRegistry:
    """Maps event types and payload models to their specs; rejects duplicates at definition."""

    def __init__(self, specs: Iterable[EventSpec] = ()) -> None:
        self._by_type: dict[str, EventSpec] = {}
        self._by_model: dict[type[BaseModel], EventSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: EventSpec) -> None:
        if spec.event_type in self._by_type:
            raise ValueError(f"event type {spec.event_type!r} registered twice")
        if spec.data_model in self._by_model:
            raise ValueError(f"model {spec.data_model.__name__} registered twice")
        if spec.topic in {s.topic for s in self._by_type.values()}:
            raise ValueError(f"topic {spec.topic!r} registered twice")
        if spec.key_field is not None and spec.key_field not in spec.data_model.model_fields:
            raise ValueError(f"{spec.data_model.__name__} has no key field {spec.key_field!r}")
        self._by_type[spec.event_type] = spec
        self._by_model[spec.data_model] = spec

    def spec(self, event_type: str) -> EventSpec:
        try:
            return self._by_type[event_type]
        except KeyError:
            raise UnknownEventTypeError(event_type) from None

    def spec_for_model(self, model: type[BaseModel]) -> EventSpec:
        try:
            return self._by_model[model]
        except KeyError:
            raise UnknownEventTypeError(model.__name__) from None

    def __iter__(self) -> Iterator[EventSpec]:
        return iter(sorted(self._by_type.values(), key=lambda s: s.topic))

    def __len__(self) -> int:
        return len(self._by_type)

    def topics(self) -> list[str]:
        return [spec.topic for spec in self]

    def envelope(
        self,
        data: ModelT,
        *,
        source_service: str,
        correlation_id: UUID | None = None,
        metadata: EventMetadata | None = None,
        event_id: UUID | None = None,
    ) -> EventEnvelope[ModelT]:
        """Wrap a payload in a new envelope whose event type comes from the registry."""
        spec = self.spec_for_model(type(data))
        # Parametrised so that pydantic serialises the concrete payload model.
        envelope_type: Any = EventEnvelope[type(data)]  # type: ignore[misc]
        return cast(
            EventEnvelope[ModelT],
            envelope_type(
                event_id=event_id or uuid4(),
                event_type=spec.event_type,
                event_timestamp=datetime.now(UTC),
                source_service=source_service,
                correlation_id=correlation_id or uuid4(),
                data=data,
                metadata=metadata or EventMetadata(),
            ),
        )

    def decode(self, raw: bytes | str | Mapping[str, Any]) -> EventEnvelope[BaseModel]:
        """Parse and validate a message against the contract its `event_type` names.

        Raises `pydantic.ValidationError` for a malformed envelope or payload and
        `UnknownEventTypeError` for an event type nobody registered.
        """
        if isinstance(raw, bytes | str):
            loaded = RawEnvelope.model_validate_json(raw)
        else:
            loaded = RawEnvelope.model_validate(raw)
        spec = self.spec(loaded.event_type)
        data = spec.data_model.model_validate(loaded.data)
        envelope_type: Any = EventEnvelope[spec.data_model]  # type: ignore[name-defined]
        return cast(
            EventEnvelope[BaseModel],
            envelope_type(**loaded.model_dump(exclude={"data"}), data=data),
        )


def encode(envelope: EventEnvelope[Any]) -> bytes:
    """The wire form of an envelope: compact UTF-8 JSON."""
    return envelope.model_dump_json().encode()


def to_json_dict(envelope: EventEnvelope[Any]) -> dict[str, Any]:
    """A JSON-safe dict of an envelope (for storage in an outbox row)."""
    result: dict[str, Any] = json.loads(envelope.model_dump_json())
    return result
