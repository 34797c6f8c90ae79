"""EssayContentProvisioned: the content takes a free slot, waits for registration, or is surplus."""

from __future__ import annotations

from typing import Any

from common_core.events.envelope import EventEnvelope
from common_core.events.essay import EssayContentProvisioned
from essay_lifecycle.content_intake import ContentIntake, IntakeConfig
from essay_lifecycle.domain.intake import Upload
from huleedu_service_libs.database import UnitOfWork

DEFAULT_CONFIG = IntakeConfig()


async def handle_essay_content_provisioned(
    envelope: EventEnvelope[Any], uow: UnitOfWork, config: IntakeConfig = DEFAULT_CONFIG
) -> None:
    event = envelope.data
    if not isinstance(event, EssayContentProvisioned):
        raise TypeError(f"expected EssayContentProvisioned, got {type(event).__name__}")
    await ContentIntake(uow, config).receive(Upload.from_content(event, envelope.correlation_id))
