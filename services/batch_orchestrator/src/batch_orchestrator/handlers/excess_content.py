"""`ExcessContentProvisioned`: count a surplus upload, once per uploaded file."""

from __future__ import annotations

from batch_orchestrator.errors import UnknownBatchError
from batch_orchestrator.repository import BatchRepository
from common_core.events.envelope import EventEnvelope
from common_core.events.essay import ExcessContentProvisioned
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)


async def handle_excess_content(
    envelope: EventEnvelope[ExcessContentProvisioned], uow: UnitOfWork
) -> None:
    """`excess_count += 1` unless this `file_upload_id` was counted already.

    Keyed by the upload, not the event: a redelivery or a re-emitted event for the same file
    (new event id) still counts once.
    """
    event = envelope.data
    repository = BatchRepository(uow.session)
    if not await repository.exists(event.batch_id):
        raise UnknownBatchError(event.batch_id)
    counted = await repository.count_excess_upload(event.batch_id, event.file_upload_id)
    _log.info(
        "excess_upload_counted" if counted else "excess_upload_already_counted",
        file_upload_id=str(event.file_upload_id),
    )
