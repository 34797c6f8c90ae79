"""The one way a service process starts: `python -m <service> migrate|http|worker`.

A service describes itself once in a `ServiceDefinition` (settings, models, migrations, its
dishka providers, its HTTP blueprints, its event handlers) and hands it to `main`. Every
process then starts the same way: JSON logging, the schema-drift guard (a drifted database
refuses to start), the dishka container, and either the HTTP app (hypercorn) or the worker
(consumer loop + outbox relay, and /metrics on `METRICS_PORT` when set), stopped cleanly on
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from dishka import AsyncContainer
from dishka.provider import BaseProvider
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from quart import Blueprint, Quart, Response, jsonify
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common_core.events import REGISTRY
from common_core.events.registry import EventRegistry
from huleedu_service_libs import metrics
from huleedu_service_libs.di import make_service_container
from huleedu_service_libs.http import create_app
from huleedu_service_libs.http.injection import QuartProvider
from huleedu_service_libs.http.readiness import (
    ReadinessCheck,
    kafka_check,
    postgres_check,
    redis_check,
)
from huleedu_service_libs.idempotency.guard import IdempotencyGuard
from huleedu_service_libs.kafka.consumer import ConsumerLoop, Handler
from huleedu_service_libs.kafka.dead_letter_depth import DeadLetterDepth
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.logging import configure_logging, get_logger
from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.outbox.relay import OutboxRelay
from huleedu_service_libs.outbox.writer import OutboxWriter
from huleedu_service_libs.retention import ExpiringRows, RetentionJob
from huleedu_service_libs.schema_drift import assert_no_drift
from huleedu_service_libs.settings import ServiceSettings

HandlersFactory = Callable[[AsyncContainer], Awaitable[Mapping[str, Handler]]]
# A worker's periodic job (e.g. a stuck-work monitor): runs until the stop event is set.
BackgroundTask = Callable[[AsyncContainer, asyncio.Event], Coroutine[Any, Any, None]]
ReadinessFactory = Callable[[AsyncContainer, ServiceSettings], Awaitable[list[ReadinessCheck]]]

_log = get_logger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    """Everything the runtime needs to know about one service."""

    name: str
    title: str
    settings_class: type[ServiceSettings]
    # None for a service without a database (the gateway): no migrations, no drift check.
    metadata: MetaData | None
    migrations: Path | None
    providers: Callable[[], Sequence[BaseProvider]] = tuple
    blueprints: Callable[[], Sequence[Blueprint]] | None = None
    handlers: HandlersFactory | None = None
    readiness: ReadinessFactory | None = None
    background: Sequence[BackgroundTask] = ()
    # The service's own tables whose rows expire, pruned by the retention job with the outbox.
    expiring_rows: Callable[[ServiceSettings], Sequence[ExpiringRows]] = lambda _settings: ()
    configure_app: Callable[[Quart, ServiceSettings], None] | None = None
    registry: EventRegistry = field(default=REGISTRY)

    @property
    def migrations_path(self) -> Path:
        """The Alembic directory; only services with a database have one."""
        if self.migrations is None:
            raise RuntimeError(f"{self.name} has no database and so no migrations")
        return self.migrations

    def load_settings(self) -> ServiceSettings:
        settings = self.settings_class()
        if settings.service_name == ServiceSettings.model_fields["service_name"].default:
            settings = settings.model_copy(update={"service_name": self.name})
        return settings

    def container(self, settings: ServiceSettings) -> AsyncContainer:
        return make_service_container(settings, self.registry, *self.providers(), QuartProvider())


def main(definition: ServiceDefinition, argv: Sequence[str] | None = None) -> int:
    """A service's `__main__`: `sys.exit(main(DEFINITION))`."""
    parser = argparse.ArgumentParser(prog=definition.name, description=definition.title)
    parser.add_argument("process", choices=["migrate", "http", "worker"])
    args = parser.parse_args(argv)
    settings = definition.load_settings()
    configure_logging(
        settings.service_name, environment=settings.environment, level=settings.log_level
    )
    runners: dict[
        str, Callable[[ServiceDefinition, ServiceSettings], Coroutine[Any, Any, None]]
    ] = {
        "migrate": migrate,
        "http": run_http,
        "worker": run_worker,
    }
    try:
        asyncio.run(runners[args.process](definition, settings))
    except Exception:
        _log.exception("process_failed", process=args.process)
        return 1
    return 0


async def migrate(definition: ServiceDefinition, settings: ServiceSettings) -> None:
    if definition.migrations is None:
        _log.info("nothing_to_migrate", service=definition.name)
        return
    await upgrade_to_head(settings.database_url, definition.migrations)
    _log.info("migrated", service=definition.name)


async def build_http_app(definition: ServiceDefinition, settings: ServiceSettings) -> Quart:
    """The service's app on a checked schema; the container closes when the app stops."""
    if definition.blueprints is None:
        raise RuntimeError(f"{definition.name} has no HTTP app")
    container = definition.container(settings)
    if definition.metadata is not None:
        await assert_no_drift(await container.get(AsyncEngine), definition.metadata)
    readiness = definition.readiness or _infrastructure_checks
    app = create_app(
        settings,
        title=definition.title,
        readiness_checks=await readiness(container, settings),
        container=container,
        blueprints=definition.blueprints(),
    )
    if definition.configure_app is not None:
        definition.configure_app(app, settings)
    return app


async def run_http(definition: ServiceDefinition, settings: ServiceSettings) -> None:
    app = await build_http_app(definition, settings)
    config = HypercornConfig()
    config.bind = [f"{settings.http_host}:{settings.http_port}"]
    config.accesslog = None
    config.graceful_timeout = 5
    stop = _stop_on_signals()
    _log.info("http_starting", bind=config.bind[0])
    await serve(app, config, shutdown_trigger=stop.wait)


async def run_worker(definition: ServiceDefinition, settings: ServiceSettings) -> None:
    container = definition.container(settings)
    try:
        if definition.metadata is None:
            raise RuntimeError(f"{definition.name} has no database, so no outbox to relay")
        engine = await container.get(AsyncEngine)
        await assert_no_drift(engine, definition.metadata)
        topics = TopicNamer(settings.kafka_topic_prefix)
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            [topics.topic(spec.topic) for spec in definition.registry]
            + [topics.dead_letter(spec.topic) for spec in definition.registry],
            partitions=settings.kafka_partitions,
        )
        publisher = await container.get(KafkaPublisher)
        stop = _stop_on_signals()
        tasks = [
            OutboxRelay(
                engine,
                publisher,
                service_name=settings.service_name,
                batch_size=settings.outbox_batch_size,
                poll_interval_s=settings.outbox_poll_interval_s,
                max_attempts=settings.outbox_max_attempts,
            ).run(stop),
            RetentionJob(
                engine,
                service_name=settings.service_name,
                outbox_retention=timedelta(hours=settings.outbox_retention_hours),
                inbox_retention=timedelta(hours=settings.inbox_retention_hours),
                interval_s=settings.retention_interval_s,
                expiring=definition.expiring_rows(settings),
            ).run(stop),
        ]
        if definition.handlers is not None:
            loop = ConsumerLoop(
                settings,
                consumer_name=settings.service_name,
                registry=definition.registry,
                handlers=await definition.handlers(container),
                sessions=await container.get(async_sessionmaker[AsyncSession]),
                outbox=await container.get(OutboxWriter),
                guard=IdempotencyGuard(
                    await container.get(aioredis.Redis),
                    key_prefix=f"{settings.redis_key_prefix}:idempotency",
                ),
                publisher=publisher,
                consumer_options={
                    "session_timeout_ms": settings.kafka_session_timeout_ms,
                    "heartbeat_interval_ms": max(500, settings.kafka_session_timeout_ms // 5),
                },
            )
            tasks.append(loop.run(stop))
            tasks.append(
                DeadLetterDepth(
                    settings, loop.logical_topics, interval_s=settings.dead_letter_check_interval_s
                ).run(stop)
            )
        tasks.extend(task(container, stop) for task in definition.background)
        if settings.metrics_port is not None:
            tasks.append(serve_worker_metrics(settings, settings.metrics_port, stop))
        _log.info("worker_started", consuming=definition.handlers is not None)
        await asyncio.gather(*tasks)
    finally:
        await container.close()


def worker_metrics_app(service_name: str) -> Quart:
    """A worker's own small HTTP surface: its metrics registry and a liveness answer.

    Served on the worker's event loop, so `/healthz/live` stops answering when the loop hangs.
    """
    app = Quart(f"{service_name}-worker")

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        return metrics.metrics_response()

    @app.get("/healthz/live")
    async def live() -> Response:
        return jsonify({"status": "live", "process": "worker"})

    return app


async def serve_worker_metrics(settings: ServiceSettings, port: int, stop: asyncio.Event) -> None:
    """Serve `worker_metrics_app` on `http_host:port` until `stop` is set."""
    config = HypercornConfig()
    config.bind = [f"{settings.http_host}:{port}"]
    config.accesslog = None
    config.graceful_timeout = 1
    _log.info("worker_metrics_serving", bind=config.bind[0])
    await serve(worker_metrics_app(settings.service_name), config, shutdown_trigger=stop.wait)


async def _infrastructure_checks(
    container: AsyncContainer, settings: ServiceSettings
) -> list[ReadinessCheck]:
    return [
        postgres_check(await container.get(AsyncEngine)),
        redis_check(await container.get(aioredis.Redis)),
        kafka_check(settings.kafka_bootstrap_servers),
    ]


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
