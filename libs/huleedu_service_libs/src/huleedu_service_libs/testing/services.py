"""Run one service in-process against real infrastructure, as its tests need it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from quart.testing import QuartClient

from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.runtime import ServiceDefinition, build_http_app
from huleedu_service_libs.settings import ServiceSettings


@asynccontextmanager
async def http_test_client(
    definition: ServiceDefinition, settings: ServiceSettings
) -> AsyncIterator[QuartClient]:
    """Migrate the service's database, build its real app and yield a test client."""
    if definition.migrations is not None:
        await upgrade_to_head(settings.database_url, definition.migrations)
    app = await build_http_app(definition, settings)
    async with app.test_app() as test_app:
        yield cast(QuartClient, test_app.test_client())
