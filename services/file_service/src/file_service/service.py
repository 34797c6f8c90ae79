"""file_service as the runtime sees it: the upload API, and a worker that relays the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import httpx
from dishka import Provider, Scope, from_context, provide

from file_service.api import configure_body_limit, files_blueprint
from file_service.bos_client import BatchOrchestratorClient
from file_service.domain.validation import UploadLimits
from file_service.intake import FileIntake
from file_service.models import metadata, upload_requests
from file_service.settings import FileSettings
from huleedu_service_libs.content_client import ContentClient
from huleedu_service_libs.retention import ExpiringRows
from huleedu_service_libs.runtime import ServiceDefinition
from huleedu_service_libs.settings import ServiceSettings

# Connection failures are retried by the transport: storing by content hash is idempotent.
_CONNECT_RETRIES = 2


class FileServiceProvider(Provider):
    settings = from_context(provides=FileSettings, scope=Scope.APP)

    @provide(scope=Scope.APP)
    async def http_client(self, settings: FileSettings) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(
            timeout=settings.upstream_timeout_seconds,
            transport=httpx.AsyncHTTPTransport(retries=_CONNECT_RETRIES),
        ) as client:
            yield client

    @provide(scope=Scope.APP)
    def content_client(self, http: httpx.AsyncClient, settings: FileSettings) -> ContentClient:
        return ContentClient(http, settings.content_service_url)

    @provide(scope=Scope.APP)
    def batch_orchestrator_client(
        self, http: httpx.AsyncClient, settings: FileSettings
    ) -> BatchOrchestratorClient:
        return BatchOrchestratorClient(http, settings.batch_orchestrator_url)

    @provide(scope=Scope.APP)
    def intake(self, content: ContentClient, settings: FileSettings) -> FileIntake:
        limits = UploadLimits(
            max_file_bytes=settings.max_file_bytes,
            min_characters=settings.min_essay_characters,
            max_characters=settings.max_essay_characters,
        )
        return FileIntake(content, limits, concurrency=settings.file_concurrency)


def expiring_rows(settings: ServiceSettings) -> Sequence[ExpiringRows]:
    """Stored upload answers outlive any sensible retry, then go."""
    assert isinstance(settings, FileSettings)
    retention = timedelta(hours=settings.upload_answer_retention_hours)
    return [ExpiringRows(upload_requests, "created_at", retention)]


DEFINITION = ServiceDefinition(
    name="file_service",
    title="HuleEdu file service",
    settings_class=FileSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    providers=lambda: [FileServiceProvider()],
    blueprints=lambda: [files_blueprint()],
    configure_app=configure_body_limit,
    handlers=None,  # the worker only relays the outbox and prunes
    expiring_rows=expiring_rows,
)
