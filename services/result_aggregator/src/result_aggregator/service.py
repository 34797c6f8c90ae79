"""result_aggregator as the runtime sees it: an HTTP app for the gateway's reads, a worker
folding every teacher-facing event into the read model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from pathlib import Path

import redis.asyncio as aioredis
from dishka import AsyncContainer, Provider, Scope
from pydantic import BaseModel

from common_core.events import REGISTRY
from common_core.events.batch import (
    BatchContentProvisioningCompleted,
    BatchEssaysReady,
    BatchEssaysRegistered,
)
from common_core.events.cj import CJAssessmentFailed
from common_core.events.essay import (
    EssaySlotAssigned,
    EssayValidationFailed,
    ExcessContentProvisioned,
)
from common_core.events.pipeline import (
    BatchCJAssessmentInitiateCommand,
    BatchPipelineCompleted,
    BatchSpellcheckInitiateCommand,
    ELSBatchPhaseOutcome,
)
from common_core.events.results import AssessmentResult
from common_core.events.spellcheck import SpellcheckResult
from huleedu_service_libs.kafka.consumer import Handler
from huleedu_service_libs.runtime import ServiceDefinition
from result_aggregator.api import batches_blueprint
from result_aggregator.handlers import intake, phases
from result_aggregator.models import metadata
from result_aggregator.recording import ProgressAnnouncer
from result_aggregator.settings import ResultAggregatorSettings

CONSUMED: dict[type[BaseModel], Callable[..., Awaitable[None]]] = {
    BatchEssaysRegistered: intake.handle_batch_essays_registered,
    EssaySlotAssigned: intake.handle_essay_slot_assigned,
    EssayValidationFailed: intake.handle_essay_validation_failed,
    ExcessContentProvisioned: intake.handle_excess_content,
    BatchContentProvisioningCompleted: intake.handle_content_provisioning_completed,
    BatchEssaysReady: intake.handle_batch_essays_ready,
    BatchSpellcheckInitiateCommand: phases.handle_spellcheck_initiate,
    BatchCJAssessmentInitiateCommand: phases.handle_cj_assessment_initiate,
    SpellcheckResult: phases.handle_spellcheck_result,
    ELSBatchPhaseOutcome: phases.handle_phase_outcome,
    CJAssessmentFailed: phases.handle_cj_assessment_failed,
    AssessmentResult: phases.handle_assessment_result,
    BatchPipelineCompleted: phases.handle_pipeline_completed,
}
"""Every event that tells the teacher something, and the handler that folds it in."""


def consumed_handlers(announcer: ProgressAnnouncer) -> Mapping[str, Handler]:
    return {
        REGISTRY.spec_for_model(model).event_type: partial(handler, announcer=announcer)
        for model, handler in CONSUMED.items()
    }


async def _handlers(container: AsyncContainer) -> Mapping[str, Handler]:
    settings = await container.get(ResultAggregatorSettings)
    redis = await container.get(aioredis.Redis)
    return consumed_handlers(ProgressAnnouncer(redis, settings.kafka_topic_prefix))


def _providers() -> list[Provider]:
    provider = Provider(scope=Scope.APP)
    provider.from_context(provides=ResultAggregatorSettings, scope=Scope.APP)
    return [provider]


DEFINITION = ServiceDefinition(
    name="result_aggregator",
    title="HuleEdu result aggregator",
    settings_class=ResultAggregatorSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    providers=_providers,
    blueprints=lambda: [batches_blueprint()],
    handlers=_handlers,
)
