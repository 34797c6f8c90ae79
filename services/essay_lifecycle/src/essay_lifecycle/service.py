"""essay_lifecycle as the runtime sees it: an HTTP app for reads and a worker for intake."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path

from dishka import AsyncContainer, Provider, Scope

from common_core.events import REGISTRY
from common_core.events.batch import BatchEssaysRegistered
from common_core.events.essay import EssayContentProvisioned, EssayValidationFailed
from essay_lifecycle.api import essays_blueprint
from essay_lifecycle.content_intake import IntakeConfig, SlotLockRetry
from essay_lifecycle.handlers.batch_essays_registered import handle_batch_essays_registered
from essay_lifecycle.handlers.essay_content_provisioned import handle_essay_content_provisioned
from essay_lifecycle.handlers.essay_validation_failed import handle_essay_validation_failed
from essay_lifecycle.models import metadata
from essay_lifecycle.settings import EssayLifecycleSettings
from huleedu_service_libs.kafka.consumer import Handler
from huleedu_service_libs.runtime import ServiceDefinition


def intake_config(settings: EssayLifecycleSettings) -> IntakeConfig:
    return IntakeConfig(
        service_name=settings.service_name,
        retry=SlotLockRetry(
            attempts=settings.slot_lock_retry_attempts,
            base_delay_s=settings.slot_lock_retry_base_s,
            max_delay_s=settings.slot_lock_retry_max_s,
        ),
    )


def intake_handlers(config: IntakeConfig) -> Mapping[str, Handler]:
    """The consumed event types and their handlers, bound to the intake settings."""
    return {
        REGISTRY.spec_for_model(BatchEssaysRegistered).event_type: partial(
            handle_batch_essays_registered, config=config
        ),
        REGISTRY.spec_for_model(EssayContentProvisioned).event_type: partial(
            handle_essay_content_provisioned, config=config
        ),
        REGISTRY.spec_for_model(EssayValidationFailed).event_type: partial(
            handle_essay_validation_failed, config=config
        ),
    }


async def _handlers(container: AsyncContainer) -> Mapping[str, Handler]:
    return intake_handlers(intake_config(await container.get(EssayLifecycleSettings)))


def _providers() -> list[Provider]:
    provider = Provider(scope=Scope.APP)
    provider.from_context(provides=EssayLifecycleSettings, scope=Scope.APP)
    return [provider]


DEFINITION = ServiceDefinition(
    name="essay_lifecycle",
    title="HuleEdu essay lifecycle service",
    settings_class=EssayLifecycleSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    providers=_providers,
    blueprints=lambda: [essays_blueprint()],
    handlers=_handlers,
)
