"""A container built from the shared provider yields working infrastructure objects."""

from __future__ import annotations

from uuid import uuid4

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from common_core.events.registry import EventRegistry, EventSpec
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.di import make_service_container
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.outbox.table import include_outbox, outbox_table
from huleedu_service_libs.settings import ServiceSettings

pytestmark = pytest.mark.integration


class WidgetBuilt(BaseModel):
    batch_id: str
    widget: str


class WidgetSettings(ServiceSettings):
    widget_colour: str = "blue"


def widget_registry(topic: str) -> EventRegistry:
    return EventRegistry(
        [EventSpec("WidgetBuilt", topic, WidgetBuilt, "batch_id", "a widget was built")]
    )


async def test_container_yields_working_infrastructure(
    settings_factory, database_url: str, redis_client: aioredis.Redis
) -> None:
    topic = f"huleedu.test.widget_built_{uuid4().hex[:8]}.v1"
    settings = settings_factory("widgets", database_url=database_url, settings_class=WidgetSettings)
    registry = widget_registry(topic)
    await ensure_topics(settings.kafka_bootstrap_servers, [settings.kafka_topic_prefix + topic])
    container = make_service_container(settings, registry)
    try:
        assert await container.get(ServiceSettings) is settings
        assert await container.get(WidgetSettings) is settings
        assert (await container.get(TopicNamer)).topic(topic) == settings.kafka_topic_prefix + topic

        engine = await container.get(AsyncEngine)
        async with engine.begin() as conn:
            assert (
                await conn.scalar(text("SELECT current_database()"))
                == database_url.rsplit("/", 1)[1]
            )
            metadata = MetaData()
            include_outbox(metadata)
            await conn.run_sync(metadata.create_all)

        redis = await container.get(aioredis.Redis)
        key = f"{settings.redis_key_prefix}:di-check"
        await redis.set(key, "ok")
        assert await redis_client.get(key) == b"ok"

        publisher = await container.get(KafkaPublisher)
        await publisher.publish(
            registry.envelope(WidgetBuilt(batch_id="b1", widget="w"), source_service="widgets")
        )

        correlation_id = uuid4()
        async with container() as request_scope:
            uow = await request_scope.get(UnitOfWork)
            assert await request_scope.get(UnitOfWork) is uow
            async with uow:
                await uow.publish(
                    WidgetBuilt(batch_id="b2", widget="x"), correlation_id=correlation_id
                )
                await uow.commit()
        async with container() as other_scope:
            assert await other_scope.get(UnitOfWork) is not uow

        sessions = await container.get(async_sessionmaker[AsyncSession])
        async with sessions() as session:
            row = (
                await session.execute(
                    select(
                        outbox_table.c.event_type,
                        outbox_table.c.topic,
                        outbox_table.c.aggregate_key,
                        outbox_table.c.payload["source_service"].astext,
                        outbox_table.c.payload["correlation_id"].astext,
                    )
                )
            ).one()
            assert tuple(row) == (
                "WidgetBuilt",
                settings.kafka_topic_prefix + topic,
                "b2",
                "widgets",
                str(correlation_id),
            )
            assert await session.scalar(select(func.count()).select_from(outbox_table)) == 1
    finally:
        await container.close()


async def test_closing_the_container_releases_database_connections(
    settings_factory, database_url: str
) -> None:
    settings = settings_factory("widgets", database_url=database_url)
    container = make_service_container(settings, widget_registry("huleedu.test.unused.v1"))
    engine = await container.get(AsyncEngine)
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    assert await other_sessions(database_url) == 1  # the pooled connection

    await container.close()

    assert await other_sessions(database_url) == 0


async def other_sessions(database_url: str) -> int:
    observer = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with observer.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        return int(count or 0)
    finally:
        await observer.dispose()
