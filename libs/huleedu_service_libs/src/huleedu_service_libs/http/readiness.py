"""Readiness checks: each one really talks to a dependency, bounded by a short timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)

DEFAULT_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class ReadinessCheck:
    """A named probe; it is healthy when `probe()` returns within `timeout` without raising."""

    name: str
    probe: Callable[[], Awaitable[Any]]
    timeout: float = DEFAULT_TIMEOUT_SECONDS


def postgres_check(
    engine: AsyncEngine, *, name: str = "postgres", timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> ReadinessCheck:
    async def probe() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return ReadinessCheck(name, probe, timeout)


def redis_check(
    client: aioredis.Redis, *, name: str = "redis", timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> ReadinessCheck:
    async def probe() -> None:
        if not await client.ping():
            raise ConnectionError("redis did not answer PING")

    return ReadinessCheck(name, probe, timeout)


def kafka_check(
    bootstrap_servers: str, *, name: str = "kafka", timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> ReadinessCheck:
    async def probe() -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
        )
        try:
            await admin.start()
            await admin.list_topics()
        finally:
            await admin.close()

    return ReadinessCheck(name, probe, timeout)


async def run_checks(checks: Sequence[ReadinessCheck]) -> dict[str, str]:
    """`{name: "ok" | "failed: <ErrorType>"}`; details go to the log, not to the caller."""
    outcomes = await asyncio.gather(*(_run(check) for check in checks))
    return dict(zip((check.name for check in checks), outcomes, strict=True))


async def _run(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check.probe(), timeout=check.timeout)
    except Exception as error:  # any failure means "not ready"; the reason is logged
        reason = "timeout" if isinstance(error, TimeoutError) else type(error).__name__
        _log.warning("readiness_check_failed", check=check.name, reason=reason, error=str(error))
        return f"failed: {reason}"
    return "ok"
