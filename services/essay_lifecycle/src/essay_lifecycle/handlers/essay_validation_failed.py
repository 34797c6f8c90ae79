"""EssayValidationFailed: the failure closes a free slot with its reason (it counts toward
completion), waits for registration, or is recorded as a surplus failure; never lost."""

from __future__ import annotations

from typing import Any

from common_core.events.envelope import EventEnvelope
from common_core.events.essay import EssayValidationFailed
from essay_lifecycle.content_intake import ContentIntake, IntakeConfig
from essay_lifecycle.domain.intake import Upload
from huleedu_service_libs.database import UnitOfWork

DEFAULT_CONFIG = IntakeConfig()


async def handle_essay_validation_failed(
    envelope: EventEnvelope[Any], uow: UnitOfWork, config: IntakeConfig = DEFAULT_CONFIG
) -> None:
    event = envelope.data
    if not isinstance(event, EssayValidationFailed):
        raise TypeError(f"expected EssayValidationFailed, got {type(event).__name__}")
    await ContentIntake(uow, config).receive(Upload.from_failure(event, envelope.correlation_id))
