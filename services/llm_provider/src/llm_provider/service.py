"""llm_provider as the runtime sees it.

`http` accepts and reads comparison requests; `worker` runs the consumer of
LLMComparisonRequest, the outbox relay (callbacks) and the queue worker (a background task).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from dishka import AsyncContainer, Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common_core.events.registry import EventRegistry
from huleedu_service_libs.content_client import ContentClient
from huleedu_service_libs.kafka.consumer import Handler
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.runtime import ServiceDefinition
from llm_provider.api import comparisons_blueprint
from llm_provider.callbacks import CallbackWriters
from llm_provider.clock import Clock, SystemClock
from llm_provider.comparison_caller import ComparisonCaller
from llm_provider.domain.circuit_breaker import CircuitBreakers
from llm_provider.domain.costs import ModelManifest
from llm_provider.domain.offline_judge import OfflineJudge
from llm_provider.domain.rate_limit import RateLimiter
from llm_provider.domain.retry import RetryPolicy
from llm_provider.handlers import event_handlers
from llm_provider.models import metadata
from llm_provider.providers.anthropic_provider import AnthropicProvider
from llm_provider.providers.base import Provider as LLMProvider
from llm_provider.providers.offline_provider import OfflineProvider
from llm_provider.providers.openai_provider import OpenAIProvider
from llm_provider.queue import RequestQueue
from llm_provider.settings import LLMProviderSettings
from llm_provider.texts import ContentServiceTexts, TextSource
from llm_provider.worker import ComparisonWorker, WorkerConfig

ProviderMap = Mapping[str, LLMProvider]


def build_providers(settings: LLMProviderSettings) -> dict[str, LLMProvider]:
    """The offline judge always; a real provider only when its API key is set."""
    providers: dict[str, LLMProvider] = {
        "offline": OfflineProvider(
            OfflineJudge(seed=settings.offline_seed, position_bias=settings.offline_position_bias)
        )
    }
    if settings.anthropic_api_key:
        providers["anthropic"] = AnthropicProvider(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            timeout_s=settings.provider_timeout_s,
        )
    if settings.openai_api_key:
        providers["openai"] = OpenAIProvider(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout_s=settings.provider_timeout_s,
        )
    return providers


def worker_config(settings: LLMProviderSettings) -> WorkerConfig:
    return WorkerConfig(
        concurrency=settings.queue_concurrency,
        lease_s=settings.queue_lease_s,
        pop_timeout_s=settings.queue_pop_timeout_s,
        housekeeping_interval_s=settings.queue_housekeeping_interval_s,
        max_claims=settings.queue_max_claims,
        default_provider=settings.default_provider,
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
        kafka_partitions=settings.kafka_partitions,
    )


class LLMProviderWiring(Provider):
    """APP scope: one queue, one caller (limiter, breakers) and one worker per process."""

    @provide(scope=Scope.APP)
    def clock(self) -> Clock:
        return SystemClock()

    @provide(scope=Scope.APP)
    def manifest(self, settings: LLMProviderSettings) -> ModelManifest:
        return ModelManifest.load(settings.model_manifest_path)

    @provide(scope=Scope.APP)
    def queue(self, redis: aioredis.Redis, settings: LLMProviderSettings) -> RequestQueue:
        return RequestQueue(redis, key_prefix=settings.redis_key_prefix)

    @provide(scope=Scope.APP)
    async def providers(self, settings: LLMProviderSettings) -> AsyncIterator[ProviderMap]:
        providers = build_providers(settings)
        yield providers
        await asyncio.gather(*(provider.aclose() for provider in providers.values()))

    @provide(scope=Scope.APP)
    def breakers(self, clock: Clock, settings: LLMProviderSettings) -> CircuitBreakers:
        return CircuitBreakers(
            clock=clock,
            failure_threshold=settings.breaker_failure_threshold,
            cool_down_s=settings.breaker_cool_down_s,
        )

    @provide(scope=Scope.APP)
    def caller(
        self,
        providers: ProviderMap,
        manifest: ModelManifest,
        breakers: CircuitBreakers,
        clock: Clock,
        settings: LLMProviderSettings,
    ) -> ComparisonCaller:
        return ComparisonCaller(
            providers=providers,
            manifest=manifest,
            limiter=RateLimiter(
                clock, manifest.rate_limits(), share=1.0 / settings.rate_limit_workers
            ),
            breakers=breakers,
            clock=clock,
            policy=RetryPolicy(
                max_attempts=settings.retry_max_attempts,
                base_delay_s=settings.retry_base_delay_s,
                max_backoff_s=settings.retry_max_backoff_s,
            ),
            rng=random.Random(),
        )

    @provide(scope=Scope.APP)
    async def texts(self, settings: LLMProviderSettings) -> AsyncIterator[TextSource]:
        async with httpx.AsyncClient(timeout=settings.content_timeout_s) as http:
            yield ContentServiceTexts(ContentClient(http, settings.content_service_url))

    @provide(scope=Scope.APP)
    def callbacks(
        self, registry: EventRegistry, topics: TopicNamer, settings: LLMProviderSettings
    ) -> CallbackWriters:
        return CallbackWriters(registry, topics, settings.service_name)

    @provide(scope=Scope.APP)
    def worker(
        self,
        sessions: async_sessionmaker[AsyncSession],
        callbacks: CallbackWriters,
        queue: RequestQueue,
        caller: ComparisonCaller,
        providers: ProviderMap,
        manifest: ModelManifest,
        breakers: CircuitBreakers,
        texts: TextSource,
        clock: Clock,
        settings: LLMProviderSettings,
    ) -> ComparisonWorker:
        return ComparisonWorker(
            sessions=sessions,
            callbacks=callbacks,
            queue=queue,
            caller=caller,
            providers=providers,
            manifest=manifest,
            breakers=breakers,
            texts=texts,
            clock=clock,
            config=worker_config(settings),
        )


def _providers() -> list[Provider]:
    provider = Provider(scope=Scope.APP)
    provider.from_context(provides=LLMProviderSettings, scope=Scope.APP)
    return [provider, LLMProviderWiring()]


async def _handlers(container: AsyncContainer) -> Mapping[str, Handler]:
    return event_handlers(await container.get(RequestQueue))


async def run_comparison_worker(container: AsyncContainer, stop: asyncio.Event) -> None:
    """The queue worker as a runtime background task of `python -m llm_provider worker`."""
    worker = await container.get(ComparisonWorker)
    await worker.run(stop)


DEFINITION = ServiceDefinition(
    name="llm_provider",
    title="HuleEdu LLM provider service",
    settings_class=LLMProviderSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    providers=_providers,
    blueprints=lambda: [comparisons_blueprint()],
    handlers=_handlers,
    background=(run_comparison_worker,),
)
