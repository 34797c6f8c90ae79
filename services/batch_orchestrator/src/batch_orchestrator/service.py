"""batch_orchestrator as the runtime sees it.

`http` serves registration and status reads; `worker` runs the outbox relay, the consumer of
ELS's intake and phase outcomes and of pipeline requests, and the phase-deadline monitor.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from dishka import AsyncContainer, Provider, Scope

from batch_orchestrator.api import batches_blueprint
from batch_orchestrator.handlers import event_handlers
from batch_orchestrator.models import metadata
from batch_orchestrator.monitor import phase_deadline_monitor
from batch_orchestrator.settings import BatchOrchestratorSettings
from huleedu_service_libs.kafka.consumer import Handler
from huleedu_service_libs.runtime import ServiceDefinition


def _providers() -> list[Provider]:
    provider = Provider(scope=Scope.APP)
    provider.from_context(provides=BatchOrchestratorSettings, scope=Scope.APP)
    return [provider]


async def _handlers(container: AsyncContainer) -> Mapping[str, Handler]:
    settings = await container.get(BatchOrchestratorSettings)
    return event_handlers(timedelta(seconds=settings.phase_timeout_s))


DEFINITION = ServiceDefinition(
    name="batch_orchestrator",
    title="HuleEdu batch orchestrator",
    settings_class=BatchOrchestratorSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    providers=_providers,
    blueprints=lambda: [batches_blueprint()],
    handlers=_handlers,
    background=[phase_deadline_monitor],
)
