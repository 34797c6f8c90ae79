"""BatchEssaysRegistered: create the batch and its slots, then place what arrived early."""

from __future__ import annotations

from typing import Any

from common_core.events.batch import BatchEssaysRegistered
from common_core.events.envelope import EventEnvelope
from essay_lifecycle.content_intake import ContentIntake, IntakeConfig
from essay_lifecycle.repository import EssayRepository
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger

log = get_logger(__name__)

DEFAULT_CONFIG = IntakeConfig()


async def handle_batch_essays_registered(
    envelope: EventEnvelope[Any], uow: UnitOfWork, config: IntakeConfig = DEFAULT_CONFIG
) -> None:
    """Idempotent per batch: a batch registered before is left exactly as it is.

    Holding the batch's registration lock, content that arrived first (and content racing
    with this transaction, which waits for the lock) is placed oldest first; what does not
    fit becomes surplus.
    """
    event = envelope.data
    if not isinstance(event, BatchEssaysRegistered):
        raise TypeError(f"expected BatchEssaysRegistered, got {type(event).__name__}")
    repository = EssayRepository(uow.session)
    await repository.lock_registration(event.batch_id, exclusive=True)
    if not await repository.insert_batch(event, envelope.correlation_id):
        log.info("batch_already_registered", batch_id=str(event.batch_id))
        return
    await repository.insert_slots(event.batch_id, event.essay_ids)
    intake = ContentIntake(uow, config)
    pending = await repository.take_pending(event.batch_id)
    for upload in pending:
        await intake.place(upload)
    log.info(
        "batch_registered",
        batch_id=str(event.batch_id),
        slots=len(event.essay_ids),
        pending_placed=len(pending),
    )
