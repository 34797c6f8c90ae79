"""Placing uploads in slots and ending a batch's intake, inside the caller's transaction.

Used by all three intake handlers, so a file is placed the same way whether it arrives
before or after its batch's registration (invariant 3), and the "intake complete?" decision
is taken in one place, under the batch row lock (invariant 4).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from common_core.events.essay import EssaySlotAssigned, ExcessContentProvisioned
from essay_lifecycle.domain.essay_state import FREE_SLOT, IntakeEvent, transition
from essay_lifecycle.domain.intake import Upload, UploadKind, completion_events, intake_outcome
from essay_lifecycle.metrics import (
    INTAKE_COMPLETED_TOTAL,
    SLOT_LOCK_RETRIES_TOTAL,
    UPLOADS_PLACED_TOTAL,
)
from essay_lifecycle.repository import EssayRepository
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger

log = get_logger(__name__)


class Placement(StrEnum):
    """Where an upload went."""

    SLOT = "slot"
    PENDING = "pending"
    EXCESS = "excess"
    DUPLICATE = "duplicate"


class SlotsStillLockedError(RuntimeError):
    """Free slots exist but stayed locked through every retry.

    Raised rather than calling the upload surplus: the transaction rolls back and the
    consumer delivers the event again, when the slots have settled.
    """


@dataclass(frozen=True)
class SlotLockRetry:
    """Bounded, jittered exponential backoff while every free slot is locked.

    The defaults wait up to about ten seconds in all, which outlasts a slow commit of the
    transactions holding the slots; past that the event is retried by the consumer.
    """

    attempts: int = 25
    base_delay_s: float = 0.01
    max_delay_s: float = 0.5

    def delay(self, attempt: int) -> float:
        """Backoff after failed try `attempt` (1-based): full jitter, capped."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class IntakeConfig:
    service_name: str = "essay_lifecycle"
    retry: SlotLockRetry = field(default_factory=SlotLockRetry)


class ContentIntake:
    """The intake rules of one transaction (one consumed event)."""

    def __init__(self, uow: UnitOfWork, config: IntakeConfig) -> None:
        self._uow = uow
        self._config = config
        self._repository = EssayRepository(uow.session)

    async def receive(self, upload: Upload) -> Placement:
        """A consumed upload: once per file, kept until registration, then slot or surplus."""
        existing = await self._repository.find_upload(upload.file_upload_id)
        if existing is not None:
            return self._counted(upload, Placement.DUPLICATE, already=existing.value)
        if await self._repository.get_batch(upload.batch_id) is None:
            # Not registered as far as this snapshot knows: wait out a registration in flight,
            # then look again, so the upload is either placed now or seen by the registration.
            await self._repository.lock_registration(upload.batch_id, exclusive=False)
            if await self._repository.get_batch(upload.batch_id) is None:
                kept = await self._repository.add_pending(upload)
                return self._counted(upload, Placement.PENDING if kept else Placement.DUPLICATE)
        return await self.place(upload)

    async def place(self, upload: Upload) -> Placement:
        """Fill a free slot of the (registered) batch with `upload`, or record it as surplus."""
        new_status = transition(FREE_SLOT, upload.slot_event)
        retry = self._config.retry
        for attempt in range(1, retry.attempts + 1):
            essay_id = await self._repository.fill_free_slot(upload, new_status)
            if essay_id is not None:
                await self._filled(upload, essay_id)
                return self._counted(upload, Placement.SLOT, essay_id=str(essay_id))
            if await self._repository.free_slot_count(upload.batch_id) == 0:
                return await self._surplus(upload)
            if attempt < retry.attempts:
                SLOT_LOCK_RETRIES_TOTAL.inc()
                await asyncio.sleep(retry.delay(attempt))
        raise SlotsStillLockedError(
            f"batch {upload.batch_id}: free slots stayed locked through {retry.attempts} tries"
        )

    async def complete_if_done(self, batch_id: UUID, correlation_id: UUID) -> bool:
        """Emit the end of intake if every slot is filled or failed, once per batch.

        Taken under the batch row lock: of racing transactions the last to get the lock
        sees every other one's slot committed, and the first to see the batch complete
        stamps `intake_completed_at`, which every later one sees.
        """
        batch = await self._repository.lock_batch(batch_id)
        if batch is None or batch.intake_completed_at is not None:
            return False
        outcome = intake_outcome(
            batch.expected_essay_count, await self._repository.slot_views(batch_id)
        )
        if outcome is None:
            return False
        await self._repository.mark_intake_completed(
            batch_id,
            [
                (slot.essay_id, slot.status, transition(slot.status, IntakeEvent.INTAKE_COMPLETED))
                for slot in outcome.ready
            ],
        )
        for event in completion_events(batch_id, outcome, service_name=self._config.service_name):
            await self._uow.publish(event, correlation_id=correlation_id)
        INTAKE_COMPLETED_TOTAL.inc()
        log.info(
            "intake_completed",
            batch_id=str(batch_id),
            ready=len(outcome.ready),
            failed=len(outcome.failed),
        )
        return True

    async def _filled(self, upload: Upload, essay_id: UUID) -> None:
        if upload.kind is UploadKind.CONTENT and upload.text_id is not None:
            await self._uow.publish(
                EssaySlotAssigned(
                    batch_id=upload.batch_id,
                    essay_id=essay_id,
                    file_upload_id=upload.file_upload_id,
                    original_file_name=upload.original_file_name,
                    text_id=upload.text_id,
                ),
                correlation_id=upload.correlation_id,
            )
        await self.complete_if_done(upload.batch_id, upload.correlation_id)

    async def _surplus(self, upload: Upload) -> Placement:
        if not await self._repository.add_excess(upload):
            return self._counted(upload, Placement.DUPLICATE)
        if upload.kind is UploadKind.CONTENT and upload.text_id is not None:
            await self._uow.publish(
                ExcessContentProvisioned(
                    batch_id=upload.batch_id,
                    file_upload_id=upload.file_upload_id,
                    original_file_name=upload.original_file_name,
                    text_id=upload.text_id,
                ),
                correlation_id=upload.correlation_id,
            )
        return self._counted(upload, Placement.EXCESS)

    @staticmethod
    def _counted(upload: Upload, placement: Placement, **fields: str) -> Placement:
        UPLOADS_PLACED_TOTAL.labels(upload.kind.value, placement.value).inc()
        log.info(
            "upload_placed",
            placement=placement.value,
            kind=upload.kind.value,
            batch_id=str(upload.batch_id),
            file_upload_id=str(upload.file_upload_id),
            **fields,
        )
        return placement
