"""essay_lifecycle as the runtime sees it: an HTTP app for reads, a worker for intake and phases."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path

from dishka import AsyncContainer, Provider, Scope

from common_core.events import REGISTRY
from common_core.events.batch import BatchEssaysRegistered
from common_core.events.cj import CJAssessmentCompleted, CJAssessmentFailed
from common_core.events.essay import EssayContentProvisioned, EssayValidationFailed
from common_core.events.pipeline import (
    BatchCJAssessmentInitiateCommand,
    BatchSpellcheckInitiateCommand,
)
from common_core.events.spellcheck import SpellcheckResult
from essay_lifecycle.api import essays_blueprint
from essay_lifecycle.content_intake import IntakeConfig, SlotLockRetry
from essay_lifecycle.handlers.batch_essays_registered import handle_batch_essays_registered
from essay_lifecycle.handlers.essay_content_provisioned import handle_essay_content_provisioned
from essay_lifecycle.handlers.essay_validation_failed import handle_essay_validation_failed
from essay_lifecycle.handlers.phase_commands import (
    handle_batch_cj_assessment_initiate,
    handle_batch_spellcheck_initiate,
)
from essay_lifecycle.handlers.phase_results import (
    handle_cj_assessment_completed,
    handle_cj_assessment_failed,
    handle_spellcheck_result,
)
from essay_lifecycle.models import metadata
from essay_lifecycle.phase_tracking import PhaseConfig
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


def phase_handlers(config: PhaseConfig) -> Mapping[str, Handler]:
    """The phase commands and results ELS consumes, and their handlers."""
    return {
        REGISTRY.spec_for_model(BatchSpellcheckInitiateCommand).event_type: partial(
            handle_batch_spellcheck_initiate, config=config
        ),
        REGISTRY.spec_for_model(SpellcheckResult).event_type: partial(
            handle_spellcheck_result, config=config
        ),
        REGISTRY.spec_for_model(BatchCJAssessmentInitiateCommand).event_type: partial(
            handle_batch_cj_assessment_initiate, config=config
        ),
        REGISTRY.spec_for_model(CJAssessmentCompleted).event_type: partial(
            handle_cj_assessment_completed, config=config
        ),
        REGISTRY.spec_for_model(CJAssessmentFailed).event_type: partial(
            handle_cj_assessment_failed, config=config
        ),
    }


def consumed_handlers(settings: EssayLifecycleSettings) -> Mapping[str, Handler]:
    """Every event type the worker consumes: intake and phases."""
    return {
        **intake_handlers(intake_config(settings)),
        **phase_handlers(PhaseConfig(service_name=settings.service_name)),
    }


async def _handlers(container: AsyncContainer) -> Mapping[str, Handler]:
    return consumed_handlers(await container.get(EssayLifecycleSettings))


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
