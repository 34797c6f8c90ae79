"""batch_orchestrator as the runtime sees it.

`http` serves registration and status reads; `worker` runs the outbox relay (which publishes
`BatchEssaysRegistered`) and the consumer of ELS's intake outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dishka import AsyncContainer, Provider, Scope

from batch_orchestrator.api import batches_blueprint
from batch_orchestrator.handlers import event_handlers
from batch_orchestrator.models import metadata
from batch_orchestrator.settings import BatchOrchestratorSettings
from huleedu_service_libs.kafka.consumer import Handler
from huleedu_service_libs.runtime import ServiceDefinition


def _providers() -> list[Provider]:
    provider = Provider(scope=Scope.APP)
    provider.from_context(provides=BatchOrchestratorSettings, scope=Scope.APP)
    return [provider]


async def _handlers(_container: AsyncContainer) -> Mapping[str, Handler]:
    return event_handlers()


DEFINITION = ServiceDefinition(
    name="batch_orchestrator",
    title="HuleEdu batch orchestrator",
    settings_class=BatchOrchestratorSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    providers=_providers,
    blueprints=lambda: [batches_blueprint()],
    handlers=_handlers,
)
