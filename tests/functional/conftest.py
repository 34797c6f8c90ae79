"""The running platform for functional tests: every service as a real process.

Started once per test run with the same launcher `make run` uses, on this run's isolated
infrastructure (own databases, topic prefix and Redis prefix).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from api_gateway.auth import issue_token
from playwright.async_api import Browser, async_playwright

from huleedu_client import TeacherClient
from huleedu_service_libs.local_infra.launcher import Endpoints
from huleedu_service_libs.local_infra.platform import Platform
from huleedu_service_libs.testing.databases import drop_database

ROOT = Path(__file__).resolve().parents[2]

TeacherFactory = Callable[[str], Awaitable[TeacherClient]]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Debian's chromium, headless and quiet: no sandbox (containers), no calls home."""


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


def ensure_chromium() -> Path:
    """Debian's `chromium`, installed with apt when missing (Playwright's own download is not
    used); fails the tests with the reason when it cannot be installed."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.fail(f"{CHROMIUM} is missing: install it as root with `apt-get install -y chromium`")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr[-2000:]}")
    if not CHROMIUM.exists():
        pytest.fail(f"`apt-get install -y chromium` did not provide {CHROMIUM}")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium driven by Playwright, one per test run."""
    executable = await asyncio.to_thread(ensure_chromium)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()
