"""Per-teacher rate limits in Redis: 429 with Retry-After, then service again once the window
has moved on; limits are per teacher, atomic under concurrency, and fail open without Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from io import BytesIO

import pytest
import redis.asyncio as aioredis
from api_gateway.rate_limit import RateLimit, RateLimiter
from api_gateway.settings import GatewaySettings
from gateway_harness import bearer, gateway_client  # type: ignore[import-not-found]
from quart.datastructures import FileStorage

from huleedu_service_libs.local_infra.probes import free_port

pytestmark = pytest.mark.integration


async def test_the_request_over_the_limit_gets_429_with_retry_after_then_service_resumes(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    settings = gateway_settings_factory(rate_limit_requests=3, rate_limit_window_ms=1_000)
    async with gateway_client(settings) as gateway:
        for _ in range(3):
            assert (await gateway.get("/v1/batches", headers=bearer(teacher))).status_code == 200
        refused = await gateway.get("/v1/batches", headers=bearer(teacher))
        assert refused.status_code == 429
        body = await refused.get_json()
        assert body["code"] == "rate_limited"
        assert body["details"]["limit"] == "requests"
        retry_after = int(refused.headers["Retry-After"])
        assert retry_after == 1  # the window is one second long

        other_teacher = await gateway.get("/v1/batches", headers=bearer(f"{teacher}-other"))
        assert other_teacher.status_code == 200

        await asyncio.sleep(retry_after)
        assert (await gateway.get("/v1/batches", headers=bearer(teacher))).status_code == 200


async def test_retry_after_says_when_the_oldest_request_leaves_a_long_window(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    settings = gateway_settings_factory(rate_limit_requests=1, rate_limit_window_ms=60_000)
    async with gateway_client(settings) as gateway:
        assert (await gateway.get("/v1/batches", headers=bearer(teacher))).status_code == 200
        refused = await gateway.get("/v1/batches", headers=bearer(teacher))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_uploads_have_their_own_tighter_limit(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    settings = gateway_settings_factory(rate_limit_uploads=2, rate_limit_window_ms=60_000)
    async with gateway_client(settings) as gateway:
        statuses = []
        for _ in range(3):
            # An unknown batch: each upload is admitted by the limiter, then answered 404.
            response = await gateway.post(
                "/v1/files/batch",
                headers=bearer(teacher),
                form={"batch_id": "00000000-0000-4000-8000-000000000000"},
                files={"files": _file("a.txt", b"essay text")},
            )
            statuses.append(response.status_code)
        assert statuses == [404, 404, 429]
        assert (await gateway.get("/v1/batches", headers=bearer(teacher))).status_code == 200


async def test_concurrent_requests_never_overshoot_the_limit(
    redis_client: aioredis.Redis, redis_prefix: str, teacher: str
) -> None:
    limiter = RateLimiter(redis_client, key_prefix=redis_prefix)
    limit = RateLimit("burst", limit=5, window_ms=60_000)
    decisions = await asyncio.gather(*(limiter.hit(limit, teacher) for _ in range(40)))
    assert sum(d.allowed for d in decisions) == 5
    assert {d.remaining for d in decisions if d.allowed} == {0, 1, 2, 3, 4}
    assert all(d.retry_after_ms > 0 for d in decisions if not d.allowed)
    assert await redis_client.zcard(limiter.key(limit, teacher)) == 5


async def test_refused_requests_do_not_extend_the_wait(
    redis_client: aioredis.Redis, redis_prefix: str, teacher: str
) -> None:
    """Hammering while refused must not lock a teacher out: refusals are not recorded."""
    limiter = RateLimiter(redis_client, key_prefix=redis_prefix)
    limit = RateLimit("hammer", limit=1, window_ms=500)
    assert (await limiter.hit(limit, teacher)).allowed
    for _ in range(20):
        assert not (await limiter.hit(limit, teacher)).allowed
    wait = (await limiter.hit(limit, teacher)).retry_after_ms
    await asyncio.sleep(wait / 1000 + 0.05)
    assert (await limiter.hit(limit, teacher)).allowed


async def test_without_redis_the_limiter_fails_open(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    settings = gateway_settings_factory(
        redis_url=f"redis://127.0.0.1:{free_port()}/0", rate_limit_requests=1
    )
    async with gateway_client(settings) as gateway:
        for _ in range(3):
            assert (await gateway.get("/v1/batches", headers=bearer(teacher))).status_code == 200


def _file(name: str, data: bytes) -> FileStorage:
    return FileStorage(BytesIO(data), filename=name, content_type="text/plain")
