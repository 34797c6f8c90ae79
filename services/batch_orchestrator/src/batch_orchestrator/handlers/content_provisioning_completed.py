"""`BatchContentProvisioningCompleted`: record how many slots were filled and failed."""

from __future__ import annotations

from batch_orchestrator.errors import UnknownBatchError
from batch_orchestrator.repository import BatchRepository
from common_core.events.batch import BatchContentProvisioningCompleted
from common_core.events.envelope import EventEnvelope
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)


async def handle_content_provisioning_completed(
    envelope: EventEnvelope[BatchContentProvisioningCompleted], uow: UnitOfWork
) -> None:
    """Counts are absolute, so a redelivery writes the same values; status is not touched.

    `BatchEssaysReady` (another topic, any order) moves the status. The counts are facts about
    intake and are recorded even on a batch that has since ended, so its view stays complete.
    """
    event = envelope.data
    repository = BatchRepository(uow.session)
    batch = await repository.lock(event.batch_id)
    if batch is None:
        raise UnknownBatchError(event.batch_id)
    if event.expected_essay_count != batch.expected_essay_count:
        _log.warning(
            "intake_slot_count_mismatch",
            registered=batch.expected_essay_count,
            reported=event.expected_essay_count,
        )
    if (batch.provisioned_count, batch.failed_count) != (
        event.provisioned_count,
        event.failed_count,
    ):
        await repository.set_intake_counts(
            event.batch_id, provisioned=event.provisioned_count, failed=event.failed_count
        )
    _log.info(
        "intake_counts_recorded",
        provisioned_count=event.provisioned_count,
        failed_count=event.failed_count,
    )
