"""Dead-lettering: a message that cannot be handled is parked with its error, never dropped.

The dead-letter record keeps the original value bytes, key and headers unchanged (so it can
be replayed as is) and adds the `ErrorDetail` as JSON in the `dead_letter_error` header, with
the code also in `dead_letter_code` for quick filtering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from common_core.errors import ErrorCode, ErrorDetail
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer

DEAD_LETTER_ERROR_HEADER = "dead_letter_error"
DEAD_LETTER_CODE_HEADER = "dead_letter_code"
_MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class DeadLetter:
    """A dead-letter record as read back from the dead-letter topic."""

    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]
    error: ErrorDetail

    @property
    def original_headers(self) -> dict[str, str]:
        return {
            name: (value or b"").decode(errors="replace")
            for name, value in self.headers
            if name not in (DEAD_LETTER_ERROR_HEADER, DEAD_LETTER_CODE_HEADER)
        }


def dead_letter_error(
    code: ErrorCode,
    message: str,
    *,
    service: str,
    consumer: str,
    record: Any,
    attempts: int,
    correlation_id: UUID | None = None,
    event_id: UUID | None = None,
    event_type: str | None = None,
) -> ErrorDetail:
    """The error detail of a dead-lettered Kafka record (`record`: an aiokafka ConsumerRecord)."""
    details: dict[str, Any] = {
        "consumer": consumer,
        "original_topic": record.topic,
        "original_partition": record.partition,
        "original_offset": record.offset,
        "attempts": attempts,
    }
    if event_id is not None:
        details["event_id"] = str(event_id)
    if event_type is not None:
        details["event_type"] = event_type
    if record.value is None:
        details["original_value_null"] = True
    return ErrorDetail(
        code=code,
        message=message[:_MAX_MESSAGE_CHARS],
        service=service,
        operation=consumer,
        correlation_id=correlation_id,
        details=details,
    )


async def publish_dead_letter(
    publisher: KafkaPublisher,
    topics: TopicNamer,
    logical_topic: str,
    record: Any,
    error: ErrorDetail,
) -> None:
    """Send `record` to `<prefixed topic>.dlt` with its original key; returns after the ack.

    The caller commits the original offset only after this returns, so a failed send means
    the message is consumed again, never lost.
    """
    headers = _header_map(record.headers)
    headers[DEAD_LETTER_CODE_HEADER] = error.code.value
    headers[DEAD_LETTER_ERROR_HEADER] = error.model_dump_json()
    key = record.key.decode(errors="replace") if record.key is not None else None
    ack = await publisher.send(
        topics.dead_letter(logical_topic),
        record.value if record.value is not None else b"",
        key=key,
        headers=headers,
    )
    await ack


def read_dead_letter(record: Any) -> DeadLetter:
    """Parse a record consumed from a dead-letter topic."""
    headers = list(record.headers or ())
    raw_error = next((v for k, v in headers if k == DEAD_LETTER_ERROR_HEADER), None)
    if raw_error is None:
        raise ValueError(f"record at {record.topic}:{record.offset} is not a dead letter")
    return DeadLetter(
        value=record.value,
        key=record.key,
        headers=headers,
        error=ErrorDetail.model_validate_json(raw_error),
    )


def _header_map(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {name: (value or b"").decode(errors="replace") for name, value in headers or ()}
