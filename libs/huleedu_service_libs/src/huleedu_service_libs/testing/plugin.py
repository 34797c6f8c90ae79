"""pytest plugin: one set of real infrastructure per test run, isolated from other runs.

Each run gets its own broker (unless KAFKA_BOOTSTRAP_SERVERS names one), its own databases
(`t<run>_<name>`, dropped at the end), a Redis key prefix and a topic prefix, so two runs on
one machine never see each other's data.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from huleedu_service_libs.local_infra.launcher import Endpoints, LocalInfra
from huleedu_service_libs.settings import ServiceSettings
from huleedu_service_libs.testing.databases import create_database, drop_database

DatabaseFactory = Callable[[str], Awaitable[str]]
SettingsFactory = Callable[..., ServiceSettings]


def _project_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pdm.lock").exists():
            return parent
    return Path.cwd()


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def infra(run_id: str) -> Iterator[Endpoints]:
    """Postgres, Redis and a Kafka-protocol broker that answer, started if missing."""
    state_dir = _project_root() / ".local" / "test-runs" / run_id
    launcher = LocalInfra(state_dir)
    endpoints = launcher.up()
    try:
        yield endpoints
    finally:
        launcher.down()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def topic_prefix(run_id: str) -> str:
    return f"t{run_id}."


@pytest.fixture(scope="session")
def redis_prefix(run_id: str) -> str:
    return f"test:{run_id}"


@pytest.fixture(scope="session")
async def database_factory(infra: Endpoints, run_id: str) -> AsyncIterator[DatabaseFactory]:
    """`await database_factory("name")` → URL of a new, empty database for this run."""
    created: list[str] = []

    async def create(name: str) -> str:
        database = f"t{run_id}_{name}"[:63]
        created.append(database)
        return await create_database(infra.postgres_url, database)

    yield create
    for database in created:
        await drop_database(infra.postgres_url, database)


@pytest.fixture
async def database_url(database_factory: DatabaseFactory, request: pytest.FixtureRequest) -> str:
    """A fresh database for one test."""
    return await database_factory(f"{request.node.name[:30]}_{uuid.uuid4().hex[:6]}".lower())


@pytest.fixture(scope="session")
def settings_factory(infra: Endpoints, topic_prefix: str, redis_prefix: str) -> SettingsFactory:
    """Service settings wired to this run's infrastructure and prefixes."""

    def make(
        service_name: str = "test", *, database_url: str | None = None, **overrides: Any
    ) -> ServiceSettings:
        values: dict[str, Any] = {
            "service_name": service_name,
            "environment": "test",
            "database_url": database_url or infra.postgres_url,
            "redis_url": infra.redis_url,
            "redis_key_prefix": f"{redis_prefix}:{service_name}",
            "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
            "kafka_topic_prefix": topic_prefix,
        }
        values.update(overrides)
        settings_class = overrides.pop("settings_class", ServiceSettings)
        values.pop("settings_class", None)
        return settings_class(**values)  # type: ignore[no-any-return]

    return make


@pytest.fixture
async def redis_client(infra: Endpoints, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A Redis client; keys under this run's prefix are deleted afterwards."""
    client = aioredis.from_url(infra.redis_url)
    yield client
    async for key in client.scan_iter(match=f"{redis_prefix}:*", count=500):
        await client.delete(key)
    await client.aclose()
