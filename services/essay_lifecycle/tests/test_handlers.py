"""Each intake handler on a real database, called inside a UnitOfWork as the consumer does."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from essay_lifecycle.content_intake import ContentIntake

from common_core.errors import ErrorCode
from common_core.events.batch import BatchContentProvisioningCompleted, BatchEssaysReady
from common_core.events.essay import EssaySlotAssigned, ExcessContentProvisioned
from common_core.status import EssayStatus

pytestmark = pytest.mark.integration


def ids(rows: list[dict[str, Any]]) -> list[str | None]:
    """The file upload ids of slot, surplus or pending rows, as strings."""
    return [None if row["file_upload_id"] is None else str(row["file_upload_id"]) for row in rows]


async def test_registration_creates_one_free_slot_per_essay_and_is_idempotent(els) -> None:
    registration = els.registered(slots=4)
    await els.handle(registration)
    again = els.registered(slots=2, batch_id=registration.data.batch_id)  # a second, odd event
    await els.handle(again)
    await els.handle(registration)

    slots = await els.slots(registration.data.batch_id)
    assert [row["essay_id"] for row in slots] == registration.data.essay_ids
    assert [row["slot_index"] for row in slots] == [0, 1, 2, 3]
    assert {row["status"] for row in slots} == {EssayStatus.AWAITING_CONTENT}
    batch = await els.batch(registration.data.batch_id)
    assert batch["expected_essay_count"] == 4
    assert batch["language"] == "en"
    assert batch["intake_completed_at"] is None
    assert await els.event_types() == []


async def test_content_fills_the_lowest_free_slot_and_reports_the_assignment(els) -> None:
    registration = els.registered(slots=3)
    batch_id = registration.data.batch_id
    await els.handle(registration)
    upload = els.content(batch_id, name="anna.txt")
    await els.handle(upload)

    first, *rest = await els.slots(batch_id)
    assert first["status"] is EssayStatus.CONTENT_PROVISIONED
    assert first["file_upload_id"] == upload.data.file_upload_id
    assert first["original_file_name"] == "anna.txt"
    assert first["text_id"] == upload.data.text_id
    assert {row["status"] for row in rest} == {EssayStatus.AWAITING_CONTENT}
    assert await els.events(EssaySlotAssigned) == [
        {
            "batch_id": str(batch_id),
            "essay_id": str(first["essay_id"]),
            "file_upload_id": str(upload.data.file_upload_id),
            "original_file_name": "anna.txt",
            "text_id": upload.data.text_id,
        }
    ]
    assert await els.events(BatchEssaysReady) == []


async def test_identical_text_in_two_uploads_takes_two_slots(els) -> None:
    registration = els.registered(slots=2)
    batch_id = registration.data.batch_id
    await els.handle(registration)
    twins = [els.content(batch_id, text="The very same essay text.") for _ in range(2)]
    for upload in twins:
        await els.handle(upload)

    slots = await els.slots(batch_id)
    assert ids(slots) == [str(u.data.file_upload_id) for u in twins]
    assert slots[0]["text_id"] == slots[1]["text_id"]
    assert {row["status"] for row in slots} == {EssayStatus.READY_FOR_PROCESSING}
    assert len(await els.events(EssaySlotAssigned)) == 2
    assert len(await els.events(BatchEssaysReady)) == 1


async def test_a_redelivered_upload_never_takes_a_second_place(els) -> None:
    registration = els.registered(slots=1)
    batch_id = registration.data.batch_id
    early = els.content(batch_id)
    await els.handle(early)
    await els.handle(els.content(batch_id, upload_id=early.data.file_upload_id))  # new event id
    assert len(await els.pending(batch_id)) == 1

    await els.handle(registration)
    surplus = els.content(batch_id)
    for _ in range(2):
        await els.handle(early)
        await els.handle(surplus)
        await els.handle(els.content(batch_id, upload_id=surplus.data.file_upload_id))

    assert ids(await els.slots(batch_id)) == [str(early.data.file_upload_id)]
    assert ids(await els.excess(batch_id)) == [str(surplus.data.file_upload_id)]
    assert await els.pending(batch_id) == []
    assert await els.event_types() == [
        "essay.slot.assigned",
        "batch.content_provisioning.completed",
        "batch.essays.ready",
        "essay.excess_content.provisioned",
    ]


async def test_a_validation_failure_closes_a_slot_and_is_reported_with_its_reason(els) -> None:
    registration = els.registered(slots=2)
    batch_id = registration.data.batch_id
    await els.handle(registration)
    good = els.content(batch_id, name="good.txt")
    bad = els.failure(
        batch_id, name="bad.docx", reason=ErrorCode.CORRUPTED_FILE, message="docx is damaged"
    )
    await els.handle(bad)
    await els.handle(good)

    failed_slot, good_slot = await els.slots(batch_id)
    assert failed_slot["status"] is EssayStatus.VALIDATION_FAILED
    assert failed_slot["original_file_name"] == "bad.docx"
    assert failed_slot["failure_code"] == "corrupted_file"
    assert failed_slot["failure_message"] == "docx is damaged"
    assert failed_slot["text_id"] is None
    assert good_slot["status"] is EssayStatus.READY_FOR_PROCESSING

    [summary] = await els.events(BatchContentProvisioningCompleted)
    assert summary == {
        "batch_id": str(batch_id),
        "expected_essay_count": 2,
        "provisioned_count": 1,
        "failed_count": 1,
    }
    [ready] = await els.events(BatchEssaysReady)
    assert ready["ready_essays"] == [
        {"essay_id": str(good_slot["essay_id"]), "text_id": good.data.text_id}
    ]
    [failed] = ready["failed_essays"]
    assert failed["essay_id"] == str(failed_slot["essay_id"])
    assert failed["error"]["code"] == "corrupted_file"
    assert failed["error"]["message"] == "docx is damaged"
    assert failed["error"]["service"] == "essay_lifecycle"
    # No per-slot assignment event for a failure: it has no text.
    assert len(await els.events(EssaySlotAssigned)) == 1


async def test_a_batch_of_only_failures_still_ends_with_nothing_ready(els) -> None:
    registration = els.registered(slots=2)
    batch_id = registration.data.batch_id
    await els.handle(registration)
    await els.handle(els.failure(batch_id, reason=ErrorCode.EMPTY_CONTENT, message="empty"))
    await els.handle(els.failure(batch_id))

    [ready] = await els.events(BatchEssaysReady)
    assert ready["ready_essays"] == []
    assert [f["error"]["code"] for f in ready["failed_essays"]] == [
        "empty_content",
        "corrupted_file",
    ]
    assert (await els.batch(batch_id))["intake_completed_at"] is not None


async def test_surplus_content_and_failures_are_kept_and_completion_is_emitted_once(els) -> None:
    registration = els.registered(slots=1)
    batch_id = registration.data.batch_id
    await els.handle(registration)
    placed = els.content(batch_id, name="placed.txt")
    surplus = els.content(batch_id, name="surplus.txt")
    late_failure = els.failure(batch_id, name="late.pdf", reason=ErrorCode.ENCRYPTED_FILE)
    for envelope in (placed, surplus, late_failure):
        await els.handle(envelope)

    excess = await els.excess(batch_id)
    assert ids(excess) == [str(surplus.data.file_upload_id), str(late_failure.data.file_upload_id)]
    assert excess[0]["kind"] == "content"
    assert excess[0]["text_id"] == surplus.data.text_id
    assert excess[1]["kind"] == "validation_failure"
    assert excess[1]["failure_code"] == "encrypted_file"
    assert await els.events(ExcessContentProvisioned) == [
        {
            "batch_id": str(batch_id),
            "file_upload_id": str(surplus.data.file_upload_id),
            "original_file_name": "surplus.txt",
            "text_id": surplus.data.text_id,
        }
    ]
    assert len(await els.events(BatchEssaysReady)) == 1
    assert len(await els.events(BatchContentProvisioningCompleted)) == 1

    # A second decision on a completed batch sees the stamp and emits nothing.
    async with els.uow() as uow:
        assert not await ContentIntake(uow, els.config).complete_if_done(batch_id, uuid.uuid4())
        await uow.commit()
    assert len(await els.events(BatchEssaysReady)) == 1


async def test_content_before_registration_is_all_assigned_none_excess(els) -> None:
    registration = els.registered(slots=4)
    batch_id = registration.data.batch_id
    early = [els.content(batch_id), els.failure(batch_id), els.content(batch_id)]
    for envelope in early:
        await els.handle(envelope)
    assert len(await els.pending(batch_id)) == 3
    assert await els.slots(batch_id) == []
    assert await els.event_types() == []

    await els.handle(registration)
    late = els.content(batch_id)
    await els.handle(late)

    slots = await els.slots(batch_id)
    assert ids(slots) == [str(e.data.file_upload_id) for e in [*early, late]]  # oldest first
    assert [row["status"] for row in slots] == [
        EssayStatus.READY_FOR_PROCESSING,
        EssayStatus.VALIDATION_FAILED,
        EssayStatus.READY_FOR_PROCESSING,
        EssayStatus.READY_FOR_PROCESSING,
    ]
    assert await els.excess(batch_id) == []
    assert await els.pending(batch_id) == []
    assigned = await els.events(EssaySlotAssigned)
    assert [a["file_upload_id"] for a in assigned] == [
        str(e.data.file_upload_id) for e in (early[0], early[2], late)
    ]
    assert len(await els.events(BatchEssaysReady)) == 1
    assert await els.events(ExcessContentProvisioned) == []


async def test_more_early_content_than_slots_fills_oldest_first_and_the_rest_is_surplus(
    els,
) -> None:
    registration = els.registered(slots=2)
    batch_id = registration.data.batch_id
    early = [els.content(batch_id) for _ in range(3)]
    for envelope in early:
        await els.handle(envelope)
    await els.handle(registration)

    assert ids(await els.slots(batch_id)) == [str(e.data.file_upload_id) for e in early[:2]]
    assert ids(await els.excess(batch_id)) == [str(early[2].data.file_upload_id)]
    assert await els.event_types() == [
        "essay.slot.assigned",
        "essay.slot.assigned",
        "batch.content_provisioning.completed",
        "batch.essays.ready",
        "essay.excess_content.provisioned",
    ]
