"""content_service as the runtime sees it."""

from __future__ import annotations

from pathlib import Path

from dishka import Provider, Scope

from content_service.api import content_blueprint
from content_service.models import metadata
from content_service.settings import ContentSettings
from huleedu_service_libs.runtime import ServiceDefinition


def _providers() -> list[Provider]:
    provider = Provider(scope=Scope.APP)
    provider.from_context(provides=ContentSettings, scope=Scope.APP)
    return [provider]


DEFINITION = ServiceDefinition(
    name="content_service",
    title="HuleEdu content service",
    settings_class=ContentSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    providers=_providers,
    blueprints=lambda: [content_blueprint()],
)
