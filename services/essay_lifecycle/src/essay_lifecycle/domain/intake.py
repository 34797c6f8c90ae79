"""Content intake: what an upload is to ELS, and when a batch's intake is complete.

Intake is complete when every slot of the batch is either filled with content or closed by a
validation failure; failures count toward completion and are reported with their reason, so
a batch with bad files still ends (invariant 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events.base import EssayTextRef, FailedEssay
from common_core.events.batch import BatchContentProvisioningCompleted, BatchEssaysReady
from common_core.events.essay import EssayContentProvisioned, EssayValidationFailed
from common_core.status import EssayStatus
from essay_lifecycle.domain.essay_state import FREE_SLOT, IntakeEvent

INTAKE_OPERATION = "content_intake"


class UploadKind(StrEnum):
    """An uploaded file either brought usable content or failed validation."""

    CONTENT = "content"
    VALIDATION_FAILURE = "validation_failure"


@dataclass(frozen=True)
class Upload:
    """One uploaded file's outcome, waiting for or placed in a slot (or surplus)."""

    batch_id: UUID
    file_upload_id: UUID
    original_file_name: str
    kind: UploadKind
    correlation_id: UUID
    text_id: str | None = None
    raw_file_id: str | None = None
    failure_code: ErrorCode | None = None
    failure_message: str | None = None

    def __post_init__(self) -> None:
        if self.kind is UploadKind.CONTENT and self.text_id is None:
            raise ValueError("content needs a text_id")
        if self.kind is UploadKind.VALIDATION_FAILURE and self.failure_code is None:
            raise ValueError("a validation failure needs its reason")

    @classmethod
    def from_content(cls, event: EssayContentProvisioned, correlation_id: UUID) -> Upload:
        return cls(
            batch_id=event.batch_id,
            file_upload_id=event.file_upload_id,
            original_file_name=event.original_file_name,
            kind=UploadKind.CONTENT,
            correlation_id=correlation_id,
            text_id=event.text_id,
            raw_file_id=event.raw_file_id,
        )

    @classmethod
    def from_failure(cls, event: EssayValidationFailed, correlation_id: UUID) -> Upload:
        return cls(
            batch_id=event.batch_id,
            file_upload_id=event.file_upload_id,
            original_file_name=event.original_file_name,
            kind=UploadKind.VALIDATION_FAILURE,
            correlation_id=correlation_id,
            raw_file_id=event.raw_file_id,
            failure_code=ErrorCode(event.reason),
            failure_message=event.message,
        )

    @property
    def slot_event(self) -> IntakeEvent:
        """What placing this upload does to a free slot."""
        if self.kind is UploadKind.CONTENT:
            return IntakeEvent.CONTENT_ASSIGNED
        return IntakeEvent.VALIDATION_FAILED


@dataclass(frozen=True)
class SlotView:
    """One slot as the completion decision needs it."""

    essay_id: UUID
    status: EssayStatus
    updated_at: datetime
    text_id: str | None = None
    failure_code: ErrorCode | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class IntakeOutcome:
    """A complete batch: its filled slots and its failed slots, each in slot order."""

    ready: tuple[SlotView, ...]
    failed: tuple[SlotView, ...]


def is_intake_complete(expected_essay_count: int, statuses: Sequence[EssayStatus]) -> bool:
    """Every one of the expected slots exists and none is still free."""
    return len(statuses) == expected_essay_count and FREE_SLOT not in statuses


def intake_outcome(expected_essay_count: int, slots: Sequence[SlotView]) -> IntakeOutcome | None:
    """None while intake is incomplete; otherwise which slots are ready and which failed."""
    if not is_intake_complete(expected_essay_count, [slot.status for slot in slots]):
        return None
    failed = tuple(slot for slot in slots if slot.status is EssayStatus.VALIDATION_FAILED)
    ready = tuple(slot for slot in slots if slot.status is not EssayStatus.VALIDATION_FAILED)
    return IntakeOutcome(ready=ready, failed=failed)


def completion_events(
    batch_id: UUID, outcome: IntakeOutcome, *, service_name: str
) -> tuple[BatchContentProvisioningCompleted, BatchEssaysReady]:
    """The two events that end a batch's intake, emitted exactly once per batch."""
    ready = [EssayTextRef(essay_id=slot.essay_id, text_id=_text_id(slot)) for slot in outcome.ready]
    failed = [
        FailedEssay(
            essay_id=slot.essay_id,
            error=ErrorDetail(
                code=slot.failure_code or ErrorCode.PROCESSING_FAILED,
                message=slot.failure_message or "the uploaded file failed validation",
                service=service_name,
                operation=INTAKE_OPERATION,
                timestamp=slot.updated_at,
            ),
        )
        for slot in outcome.failed
    ]
    summary = BatchContentProvisioningCompleted(
        batch_id=batch_id,
        expected_essay_count=len(outcome.ready) + len(outcome.failed),
        provisioned_count=len(ready),
        failed_count=len(failed),
    )
    return summary, BatchEssaysReady(batch_id=batch_id, ready_essays=ready, failed_essays=failed)


def _text_id(slot: SlotView) -> str:
    if slot.text_id is None:
        raise ValueError(f"slot {slot.essay_id} is filled but has no text")
    return slot.text_id
