"""cj_assessment as the runtime sees it.

`http` serves the anchors API; `worker` runs the consumer of CJAssessmentRequested and
LLMComparisonResult, the outbox relay (comparison requests, final events) and the
batch-deadline monitor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
from dishka import AsyncContainer, Provider, Scope, provide

from cj_assessment.api import anchors_blueprint
from cj_assessment.assessment import AssessmentConfig
from cj_assessment.handlers import event_handlers
from cj_assessment.models import metadata
from cj_assessment.monitor import batch_deadline_monitor
from cj_assessment.settings import CJAssessmentSettings
from huleedu_service_libs.content_client import ContentClient
from huleedu_service_libs.kafka.consumer import Handler
from huleedu_service_libs.runtime import ServiceDefinition


class CJAssessmentWiring(Provider):
    """APP scope: one HTTP client to content_service per process."""

    @provide(scope=Scope.APP)
    async def content_client(self, settings: CJAssessmentSettings) -> AsyncIterator[ContentClient]:
        async with httpx.AsyncClient(timeout=settings.content_timeout_s) as http:
            yield ContentClient(http, settings.content_service_url)


def _providers() -> list[Provider]:
    provider = Provider(scope=Scope.APP)
    provider.from_context(provides=CJAssessmentSettings, scope=Scope.APP)
    return [provider, CJAssessmentWiring()]


async def _handlers(container: AsyncContainer) -> Mapping[str, Handler]:
    settings = await container.get(CJAssessmentSettings)
    return event_handlers(AssessmentConfig.from_settings(settings))


DEFINITION = ServiceDefinition(
    name="cj_assessment",
    title="HuleEdu comparative judgement service",
    settings_class=CJAssessmentSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    providers=_providers,
    blueprints=lambda: [anchors_blueprint()],
    handlers=_handlers,
    background=[batch_deadline_monitor],
)
