"""Contention is decided by the database: slots, completion, registration racing content."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from essay_lifecycle.content_intake import IntakeConfig, SlotLockRetry, SlotsStillLockedError
from essay_lifecycle.models import essays
from prometheus_client import REGISTRY as METRICS
from sqlalchemy import func, select, text

from common_core.events.batch import BatchContentProvisioningCompleted, BatchEssaysReady
from common_core.events.essay import EssaySlotAssigned, ExcessContentProvisioned
from common_core.status import EssayStatus

pytestmark = pytest.mark.integration

SAME_TEXT = "Twenty students handed in exactly this text, word for word, on the same day."


def retries_so_far() -> float:
    return METRICS.get_sample_value("huleedu_els_slot_lock_retries_total") or 0.0


async def wait_for(condition, what: str, timeout_s: float = 30.0) -> None:
    """Poll an async condition; fail (not hang) if it never holds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_twenty_concurrent_provisionings_for_three_slots(els) -> None:
    registration = els.registered(slots=3)
    batch_id = registration.data.batch_id
    await els.handle(registration)
    uploads = [els.content(batch_id, text=SAME_TEXT) for _ in range(20)]

    await asyncio.gather(*(els.handle(upload) for upload in uploads))

    slots = await els.slots(batch_id)
    excess = await els.excess(batch_id)
    placed = [row["file_upload_id"] for row in slots]
    surplus = [row["file_upload_id"] for row in excess]
    assert len(placed) == len(set(placed)) == 3
    assert len(surplus) == len(set(surplus)) == 17
    assert set(placed) | set(surplus) == {u.data.file_upload_id for u in uploads}
    assert {row["status"] for row in slots} == {EssayStatus.READY_FOR_PROCESSING}
    assert len(await els.events(EssaySlotAssigned)) == 3
    assert len(await els.events(ExcessContentProvisioned)) == 17
    assert len(await els.events(BatchEssaysReady)) == 1
    assert len(await els.events(BatchContentProvisioningCompleted)) == 1


async def test_many_batches_filling_concurrently_each_complete_exactly_once(els) -> None:
    registrations = [els.registered(slots=8) for _ in range(5)]
    for registration in registrations:
        await els.handle(registration)
    uploads = [els.content(r.data.batch_id) for r in registrations for _ in range(8)]

    await asyncio.gather(*(els.handle(upload) for upload in uploads))

    ready = await els.events(BatchEssaysReady)
    assert Counter(event["batch_id"] for event in ready) == {
        str(r.data.batch_id): 1 for r in registrations
    }
    for event in ready:
        assert len(event["ready_essays"]) == 8
    assert await els.events(ExcessContentProvisioned) == []


async def test_free_slots_locked_by_other_transactions_are_retried_not_called_surplus(
    els,
) -> None:
    registration = els.registered(slots=2)
    batch_id = registration.data.batch_id
    await els.handle(registration)
    patient = IntakeConfig(retry=SlotLockRetry(attempts=1000, base_delay_s=0.005, max_delay_s=0.02))
    before = retries_so_far()

    async with els.engine.connect() as holder:
        # Another transaction holds every free slot (as concurrent assignments would).
        await holder.execute(
            select(essays.c.essay_id).where(essays.c.batch_id == batch_id).with_for_update()
        )
        upload = els.content(batch_id)
        handling = asyncio.create_task(els.handle(upload, patient))

        async def retried() -> bool:
            return retries_so_far() > before

        await wait_for(retried, "the handler to retry a locked slot")
        assert not handling.done()
        await holder.rollback()  # the other transaction placed nothing after all
    await handling

    slots = await els.slots(batch_id)
    assert slots[0]["file_upload_id"] == upload.data.file_upload_id
    assert await els.excess(batch_id) == []


async def test_slots_locked_through_every_retry_fail_the_event_and_record_nothing(els) -> None:
    registration = els.registered(slots=1)
    batch_id = registration.data.batch_id
    await els.handle(registration)
    impatient = IntakeConfig(retry=SlotLockRetry(attempts=3, base_delay_s=0.001))
    upload = els.content(batch_id)

    async with els.engine.connect() as holder:
        await holder.execute(
            select(essays.c.essay_id).where(essays.c.batch_id == batch_id).with_for_update()
        )
        with pytest.raises(SlotsStillLockedError):
            await els.handle(upload, impatient)
        await holder.rollback()

    assert await els.excess(batch_id) == []
    assert (await els.slots(batch_id))[0]["file_upload_id"] is None
    await els.handle(upload, impatient)  # delivered again once the slot is free
    assert (await els.slots(batch_id))[0]["file_upload_id"] == upload.data.file_upload_id


async def test_content_racing_its_registration_is_placed_not_left_pending(els) -> None:
    registration = els.registered(slots=2)
    batch_id = registration.data.batch_id
    upload = els.content(batch_id)

    async with els.uow() as registering:
        await els.apply(registration, registering)
        # The registration has taken the pending uploads (none) but not committed yet.
        racing = asyncio.create_task(els.handle(upload))

        async def content_waits() -> bool:
            return await _waiting_on_advisory_lock(els)

        await wait_for(content_waits, "the content to wait for the registration's lock")
        await registering.commit()
    await racing

    assert (await els.slots(batch_id))[0]["file_upload_id"] == upload.data.file_upload_id
    assert await els.pending(batch_id) == []


async def _waiting_on_advisory_lock(els) -> bool:
    async with els.engine.connect() as conn:
        waiting = await conn.execute(
            select(func.count())
            .select_from(text("pg_locks"))
            .where(text("locktype = 'advisory' AND NOT granted"))
        )
        return int(waiting.scalar_one()) > 0
