"""Shared infrastructure for dishka containers: every service wires it the same way.

A service adds its own provider next to this one and builds the container with
`make_service_container`:

    class CJProvider(Provider):
        settings = from_context(provides=CJSettings, scope=Scope.APP)

        @provide(scope=Scope.REQUEST)
        def repository(self, uow: UnitOfWork) -> BatchRepository: ...

    container = make_service_container(settings, EVENT_REGISTRY, CJProvider(), QuartProvider())

`settings` is put in the context under `ServiceSettings` and under its own class, so the
service's provider can ask for its subclass. To replace one shared factory (say, a Redis
client with other options) subclass `InfrastructureProvider` and override that method.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from dishka import (
    AsyncContainer,
    Provider,
    Scope,
    from_context,
    make_async_container,
    provide,
)
from dishka.provider import BaseProvider
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common_core.events.registry import EventRegistry
from huleedu_service_libs.database import UnitOfWork, create_engine, create_session_factory
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.outbox.writer import OutboxWriter
from huleedu_service_libs.settings import ServiceSettings


class InfrastructureProvider(Provider):
    """APP scope: connections opened lazily on first use, closed with the container.

    REQUEST scope: a fresh `UnitOfWork` per request or consumed event.
    """

    settings = from_context(provides=ServiceSettings, scope=Scope.APP)
    event_registry = from_context(provides=EventRegistry, scope=Scope.APP)

    @provide(scope=Scope.APP)
    async def engine(self, settings: ServiceSettings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        yield engine
        await engine.dispose()

    @provide(scope=Scope.APP)
    def session_factory(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        return create_session_factory(engine)

    @provide(scope=Scope.APP)
    async def redis(self, settings: ServiceSettings) -> AsyncIterator[aioredis.Redis]:
        client = aioredis.from_url(settings.redis_url)
        yield client
        await client.aclose()

    @provide(scope=Scope.APP)
    def topic_namer(self, settings: ServiceSettings) -> TopicNamer:
        return TopicNamer(settings.kafka_topic_prefix)

    @provide(scope=Scope.APP)
    async def kafka_publisher(
        self, settings: ServiceSettings, registry: EventRegistry
    ) -> AsyncIterator[KafkaPublisher]:
        publisher = KafkaPublisher(settings, registry)
        await publisher.start()
        yield publisher
        await publisher.stop()

    @provide(scope=Scope.APP)
    def outbox_writer(
        self, settings: ServiceSettings, registry: EventRegistry, topics: TopicNamer
    ) -> OutboxWriter:
        return OutboxWriter(registry, topics, source_service=settings.service_name)

    @provide(scope=Scope.REQUEST)
    def unit_of_work(
        self, sessions: async_sessionmaker[AsyncSession], outbox: OutboxWriter
    ) -> UnitOfWork:
        return UnitOfWork(sessions, outbox)


def make_service_container(
    settings: ServiceSettings,
    registry: EventRegistry,
    *providers: BaseProvider,
    infrastructure: InfrastructureProvider | None = None,
) -> AsyncContainer:
    """A container with the shared infrastructure plus the service's own providers."""
    context: dict[object, object] = {
        ServiceSettings: settings,
        type(settings): settings,
        EventRegistry: registry,
    }
    return make_async_container(
        infrastructure or InfrastructureProvider(), *providers, context=context
    )
