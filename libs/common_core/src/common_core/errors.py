"""Error codes and the one error-detail model used by HTTP errors and dead-letter records."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, get_args
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ErrorCode(StrEnum):
    """Machine-readable error codes, stable across services and versions."""

    VALIDATION_ERROR = "validation_error"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"
    TIMEOUT = "timeout"
    # Event handling
    MALFORMED_EVENT = "malformed_event"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    HANDLER_FAILED = "handler_failed"
    PUBLISH_FAILED = "publish_failed"
    # Essay content
    EMPTY_CONTENT = "empty_content"
    CONTENT_TOO_SHORT = "content_too_short"
    CONTENT_TOO_LONG = "content_too_long"
    UNSUPPORTED_FILE_TYPE = "unsupported_file_type"
    CORRUPTED_FILE = "corrupted_file"
    ENCRYPTED_FILE = "encrypted_file"
    FILE_TOO_LARGE = "file_too_large"
    TOO_MANY_FILES = "too_many_files"
    BATCH_NOT_ACCEPTING_CONTENT = "batch_not_accepting_content"
    CONTENT_UNAVAILABLE = "content_unavailable"
    # Processing
    PROCESSING_FAILED = "processing_failed"
    PHASE_TIMEOUT = "phase_timeout"
    LLM_PROVIDER_ERROR = "llm_provider_error"
    LLM_RATE_LIMITED = "llm_rate_limited"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    INSUFFICIENT_COMPARISONS = "insufficient_comparisons"
    UNKNOWN_GRADE = "unknown_grade"


FileValidationErrorCode = Literal[
    ErrorCode.EMPTY_CONTENT,
    ErrorCode.CONTENT_TOO_SHORT,
    ErrorCode.CONTENT_TOO_LONG,
    ErrorCode.UNSUPPORTED_FILE_TYPE,
    ErrorCode.CORRUPTED_FILE,
    ErrorCode.ENCRYPTED_FILE,
    ErrorCode.FILE_TOO_LARGE,
    ErrorCode.PROCESSING_FAILED,
]
"""The subset of `ErrorCode` that may explain why one uploaded file was rejected."""

FILE_VALIDATION_ERROR_CODES: frozenset[ErrorCode] = frozenset(get_args(FileValidationErrorCode))


class ErrorDetail(BaseModel):
    """What went wrong, in a form both a client and an operator can act on."""

    model_config = ConfigDict(frozen=True)

    code: ErrorCode = Field(description="Machine-readable reason.")
    message: str = Field(description="Human-readable explanation.")
    service: str = Field(description="Service that detected the error.")
    operation: str | None = Field(default=None, description="What the service was doing.")
    correlation_id: UUID | None = Field(
        default=None, description="Correlation id of the request or event that failed."
    )
    details: dict[str, Any] = Field(
        default_factory=dict, description="Extra JSON-safe context for operators."
    )
    timestamp: AwareDatetime = Field(
        default_factory=lambda: datetime.now(UTC), description="When the error was detected."
    )
