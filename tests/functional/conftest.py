"""The running platform for functional tests: every service as a real process.

Started once per test run with the same launcher `make run` uses, on this run's isolated
infrastructure (own databases, topic prefix and Redis prefix).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from api_gateway.auth import issue_token

from huleedu_client import TeacherClient
from huleedu_service_libs.local_infra.launcher import Endpoints
from huleedu_service_libs.local_infra.platform import Platform
from huleedu_service_libs.testing.databases import drop_database

ROOT = Path(__file__).resolve().parents[2]

TeacherFactory = Callable[[str], Awaitable[TeacherClient]]


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return secrets.token_hex(32)


@pytest.fixture(scope="session")
async def platform(
    infra: Endpoints, run_id: str, topic_prefix: str, redis_prefix: str, jwt_secret: str
) -> AsyncIterator[Platform]:
    running = Platform(
        infra,
        manifest=ROOT / "services" / "platform.toml",
        state_dir=ROOT / ".local" / "test-runs" / run_id / "platform",
        database_prefix=f"t{run_id}",
        # Its own prefix (so its own consumer groups): service tests' workers share the broker.
        topic_prefix=f"{topic_prefix}fn.",
        redis_prefix=redis_prefix,
        # Tests poll status quickly; the per-teacher limit itself is tested in api_gateway.
        extra_env={
            "JWT_SECRET": jwt_secret,
            "ENVIRONMENT": "test",
            "RATE_LIMIT_REQUESTS": "100000",
        },
    )
    await running.start()
    try:
        yield running
    finally:
        running.stop()
        for database in running.database_names.values():
            await drop_database(infra.postgres_url, database)


@pytest.fixture
async def teacher_factory(platform: Platform, jwt_secret: str) -> AsyncIterator[TeacherFactory]:
    """`await teacher_factory("teacher-a")` → a signed-in teacher client."""
    clients: list[TeacherClient] = []

    async def make(teacher_id: str) -> TeacherClient:
        client = TeacherClient(
            platform.urls["api_gateway"], issue_token(teacher_id, jwt_secret, 3600)
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
