"""Run one service in-process against real infrastructure, as its tests need it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from quart import Quart
from quart.testing import QuartClient

from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.runtime import ServiceDefinition, build_http_app
from huleedu_service_libs.settings import ServiceSettings


async def migrated_app(definition: ServiceDefinition, settings: ServiceSettings) -> Quart:
    """The service's real HTTP app, its database migrated to head first."""
    if definition.migrations is not None:
        await upgrade_to_head(settings.database_url, definition.migrations)
    return await build_http_app(definition, settings)


@asynccontextmanager
async def http_test_client(
    definition: ServiceDefinition, settings: ServiceSettings
) -> AsyncIterator[QuartClient]:
    """Migrate the service's database, build its real app and yield a test client."""
    async with (await migrated_app(definition, settings)).test_app() as test_app:
        yield cast(QuartClient, test_app.test_client())


@asynccontextmanager
async def serve_service(
    definition: ServiceDefinition, settings: ServiceSettings
) -> AsyncIterator[str]:
    """Migrate the service's database and serve its real app on a free port; yields the URL."""
    async with serve_app(await migrated_app(definition, settings)) as url:
        yield url


@asynccontextmanager
async def serve_app(app: Quart) -> AsyncIterator[str]:
    """Serve `app` with hypercorn on a free port; yields its base URL.

    The socket is bound and listening before hypercorn takes it over (`fd://`), so the first
    request waits in the backlog instead of racing the server's start.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    config = HypercornConfig()
    config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns and closes it from here
    config.accesslog = None
    config.graceful_timeout = 1
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await server


def closed_port_url() -> str:
    """A URL nothing listens on: the port was free a moment ago and is closed again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
