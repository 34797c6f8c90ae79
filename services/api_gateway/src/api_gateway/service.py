"""api_gateway as the runtime sees it: no database, Redis for rate limits, HTTP upstreams,
Kafka for pipeline requests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import redis.asyncio as aioredis
from dishka import AsyncContainer, Provider, Scope, from_context, provide
from quart import Quart, Request

from api_gateway.api import public_blueprints
from api_gateway.auth import AuthenticatedTeacher, authenticate
from api_gateway.clients import (
    BatchOrchestratorClient,
    FileServiceClient,
    UpstreamClient,
    UpstreamError,
)
from api_gateway.clients.cj_assessment import CJAssessmentClient
from api_gateway.clients.result_aggregator import ResultAggregatorClient
from api_gateway.clients.upstream import answer_upstream_error
from api_gateway.errors import HeaderedHttpError, answer_with_headers
from api_gateway.openapi import document_gateway
from api_gateway.pipeline_requests import PipelineRequestPublisher
from api_gateway.rate_limit import RateLimiter
from api_gateway.settings import GatewaySettings
from huleedu_service_libs.content_client import ContentClient
from huleedu_service_libs.http import ReadinessCheck, kafka_check, redis_check
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.runtime import ServiceDefinition, build_http_app
from huleedu_service_libs.settings import ServiceSettings


def _upstream(
    http: httpx.AsyncClient, settings: GatewaySettings, service: str, base_url: str
) -> UpstreamClient:
    return UpstreamClient(
        http, service=service, base_url=base_url, timeout=settings.upstream_timeout_seconds
    )


class GatewayProvider(Provider):
    settings = from_context(provides=GatewaySettings, scope=Scope.APP)

    @provide(scope=Scope.APP)
    async def http_client(self, settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
        """One connection pool per process for every upstream; proxies in the environment are
        ignored because these calls never leave the platform's network."""
        async with httpx.AsyncClient(
            timeout=settings.upstream_timeout_seconds, trust_env=False
        ) as client:
            yield client

    @provide(scope=Scope.APP)
    def batch_orchestrator(
        self, http: httpx.AsyncClient, settings: GatewaySettings
    ) -> BatchOrchestratorClient:
        return BatchOrchestratorClient(
            _upstream(http, settings, "batch_orchestrator", settings.batch_orchestrator_url)
        )

    @provide(scope=Scope.APP)
    def file_service(self, http: httpx.AsyncClient, settings: GatewaySettings) -> FileServiceClient:
        return FileServiceClient(
            _upstream(http, settings, "file_service", settings.file_service_url),
            timeout=settings.upload_timeout_seconds,
        )

    @provide(scope=Scope.APP)
    def result_aggregator(
        self, http: httpx.AsyncClient, settings: GatewaySettings
    ) -> ResultAggregatorClient:
        return ResultAggregatorClient(
            _upstream(http, settings, "result_aggregator", settings.result_aggregator_url)
        )

    @provide(scope=Scope.APP)
    def cj_assessment(
        self, http: httpx.AsyncClient, settings: GatewaySettings
    ) -> CJAssessmentClient:
        return CJAssessmentClient(
            _upstream(http, settings, "cj_assessment", settings.cj_assessment_url)
        )

    @provide(scope=Scope.APP)
    def content(self, http: httpx.AsyncClient, settings: GatewaySettings) -> ContentClient:
        return ContentClient(http, settings.content_service_url)

    @provide(scope=Scope.APP)
    def rate_limiter(self, redis: aioredis.Redis, settings: GatewaySettings) -> RateLimiter:
        return RateLimiter(redis, key_prefix=settings.redis_key_prefix)

    @provide(scope=Scope.APP)
    def pipeline_requests(
        self, container: AsyncContainer, settings: GatewaySettings
    ) -> PipelineRequestPublisher:
        """The shared publisher is resolved on first use, so a broker that is down at startup
        costs only the pipeline route (503) and not the whole gateway."""
        return PipelineRequestPublisher(
            lambda: container.get(KafkaPublisher),
            settings,
            timeout_seconds=settings.pipeline_publish_timeout_seconds,
        )

    @provide(scope=Scope.REQUEST)
    def teacher(self, request: Request, settings: GatewaySettings) -> AuthenticatedTeacher:
        return authenticate(request.headers.get("Authorization"), settings)


async def _readiness(container: AsyncContainer, settings: ServiceSettings) -> list[ReadinessCheck]:
    """The gateway keeps no database: Redis holds its rate limits, Kafka takes its pipeline
    requests."""
    return [
        redis_check(await container.get(aioredis.Redis)),
        kafka_check(settings.kafka_bootstrap_servers),
    ]


def _configure(app: Quart, settings: ServiceSettings) -> None:
    assert isinstance(settings, GatewaySettings)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_request_bytes
    app.register_error_handler(HeaderedHttpError, answer_with_headers)
    app.register_error_handler(UpstreamError, answer_upstream_error)
    document_gateway(app)


DEFINITION = ServiceDefinition(
    name="api_gateway",
    title="HuleEdu API",
    settings_class=GatewaySettings,
    metadata=None,
    migrations=None,
    providers=lambda: [GatewayProvider()],
    blueprints=public_blueprints,
    readiness=_readiness,
    configure_app=_configure,
)


async def build_app(settings: GatewaySettings) -> Quart:
    """The gateway's app; the container (and its Redis and HTTP clients) closes with it."""
    return await build_http_app(DEFINITION, settings)
