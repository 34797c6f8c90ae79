"""Intake events: registration, files accepted, rejected or surplus, and the end of intake."""

from __future__ import annotations

from typing import Any

from common_core.events.batch import (
    BatchContentProvisioningCompleted,
    BatchEssaysReady,
    BatchEssaysRegistered,
)
from common_core.events.envelope import EventEnvelope
from common_core.events.essay import (
    EssaySlotAssigned,
    EssayValidationFailed,
    ExcessContentProvisioned,
)
from common_core.status import CLIENT_STATUS_FOR, EssayStatus
from huleedu_service_libs.database import UnitOfWork
from result_aggregator.domain.folding import after_essays_ready
from result_aggregator.domain.records import EssayRecord
from result_aggregator.recording import BatchChange, ProgressAnnouncer, ProgressKind

_BEFORE_READY = frozenset({None, EssayStatus.AWAITING_CONTENT, EssayStatus.CONTENT_PROVISIONED})


def _kept(essay: EssayRecord | None) -> EssayStatus | None:
    return essay.intake_status if essay is not None else None


async def handle_batch_essays_registered(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    event: BatchEssaysRegistered = envelope.data
    change = BatchChange(uow, announcer)
    await change.lock(event.batch_id)
    await change.model.update_batch(
        event.batch_id,
        user_id=event.user_id,
        course_code=event.course_code,
        language=event.language,
        assignment_id=event.assignment_id,
        expected_essay_count=event.expected_essay_count,
        registered_at=envelope.event_timestamp,
        title=event.title,
        class_id=event.class_id,
    )
    known = await change.model.essays_by_id(event.batch_id)
    await change.model.upsert_essays(
        event.batch_id,
        [
            {
                "essay_id": essay_id,
                "slot_index": slot_index,
                "intake_status": _kept(known.get(essay_id)) or EssayStatus.AWAITING_CONTENT,
            }
            for slot_index, essay_id in enumerate(event.essay_ids)
        ],
    )
    await change.record(
        event.batch_id,
        ProgressKind.BATCH_REGISTERED,
        expected_essay_count=event.expected_essay_count,
    )


async def handle_essay_slot_assigned(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    event: EssaySlotAssigned = envelope.data
    change = BatchChange(uow, announcer)
    await change.lock(event.batch_id)
    existing = await change.model.essay(event.batch_id, event.essay_id)
    current = existing.intake_status if existing is not None else None
    await change.model.upsert_essay(
        event.batch_id,
        event.essay_id,
        file_upload_id=event.file_upload_id,
        file_name=event.original_file_name,
        original_text_id=(
            existing.original_text_id
            if existing is not None and existing.original_text_id
            else event.text_id
        ),
        intake_status=(
            EssayStatus.CONTENT_PROVISIONED
            if current in (None, EssayStatus.AWAITING_CONTENT)
            else current
        ),
    )
    await change.record(
        event.batch_id,
        ProgressKind.FILE_ACCEPTED,
        essay_id=str(event.essay_id),
        file_name=event.original_file_name,
    )


async def handle_essay_validation_failed(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    event: EssayValidationFailed = envelope.data
    change = BatchChange(uow, announcer)
    await change.lock(event.batch_id)
    await change.model.add_rejected_file(
        event.batch_id,
        event.file_upload_id,
        file_name=event.original_file_name,
        reason=event.reason,
        message=event.message,
    )
    await change.record(
        event.batch_id,
        ProgressKind.FILE_REJECTED,
        file_upload_id=str(event.file_upload_id),
        file_name=event.original_file_name,
        code=event.reason,
        message=event.message,
    )


async def handle_excess_content(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    event: ExcessContentProvisioned = envelope.data
    change = BatchChange(uow, announcer)
    await change.lock(event.batch_id)
    await change.model.add_excess_file(
        event.batch_id,
        event.file_upload_id,
        file_name=event.original_file_name,
        text_id=event.text_id,
    )
    await change.record(
        event.batch_id,
        ProgressKind.FILE_EXCESS,
        file_upload_id=str(event.file_upload_id),
        file_name=event.original_file_name,
    )


async def handle_content_provisioning_completed(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    event: BatchContentProvisioningCompleted = envelope.data
    change = BatchChange(uow, announcer)
    batch = await change.lock(event.batch_id)
    await change.model.update_batch(
        event.batch_id,
        provisioned_count=event.provisioned_count,
        failed_count=event.failed_count,
        intake_completed_at=batch.intake_completed_at or envelope.event_timestamp,
    )
    await change.record(
        event.batch_id,
        ProgressKind.INTAKE_COMPLETED,
        provisioned=event.provisioned_count,
        failed=event.failed_count,
    )


async def handle_batch_essays_ready(
    envelope: EventEnvelope[Any], uow: UnitOfWork, announcer: ProgressAnnouncer
) -> None:
    """Ready essays and failed slots are recorded as facts; the status only moves forward."""
    event: BatchEssaysReady = envelope.data
    change = BatchChange(uow, announcer)
    batch = await change.lock(event.batch_id)
    known = await change.model.essays_by_id(event.batch_id)
    ready = []
    for ref in event.ready_essays:
        existing = known.get(ref.essay_id)
        current = _kept(existing)
        ready.append(
            {
                "essay_id": ref.essay_id,
                "original_text_id": (existing.original_text_id if existing else None)
                or ref.text_id,
                "intake_status": (
                    EssayStatus.READY_FOR_PROCESSING if current in _BEFORE_READY else current
                ),
            }
        )
    await change.model.upsert_essays(event.batch_id, ready)
    await change.model.upsert_essays(
        event.batch_id,
        [
            {
                "essay_id": failed.essay_id,
                "intake_status": EssayStatus.VALIDATION_FAILED,
                "intake_failure_code": failed.error.code.value,
                "intake_failure_message": failed.error.message,
            }
            for failed in event.failed_essays
        ],
    )
    status = after_essays_ready(batch.status, usable=bool(event.ready_essays))
    await change.model.update_batch(
        event.batch_id,
        status=status,
        intake_completed_at=batch.intake_completed_at or envelope.event_timestamp,
    )
    await change.record(
        event.batch_id,
        ProgressKind.BATCH_READY,
        status=CLIENT_STATUS_FOR[status].value,
        ready=len(event.ready_essays),
        failed=len(event.failed_essays),
    )
