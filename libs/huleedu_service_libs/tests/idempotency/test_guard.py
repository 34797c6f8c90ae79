"""The Redis guard against a real Redis: atomic claims, owner-checked confirm and release."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as aioredis

from huleedu_service_libs.idempotency import ClaimState, IdempotencyGuard
from huleedu_service_libs.idempotency.guard import COMPLETED, PROCESSING_PREFIX

pytestmark = pytest.mark.integration

SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000


def _guard(redis: aioredis.Redis, prefix: str, **options: float) -> IdempotencyGuard:
    return IdempotencyGuard(redis, key_prefix=f"{prefix}:guard", **options)


async def _value(redis: aioredis.Redis, key: str) -> str | None:
    value = await redis.get(key)
    return value.decode() if isinstance(value, bytes) else value


async def _absent(redis: aioredis.Redis, key: str) -> bool:
    return bool(await redis.exists(key) == 0)


async def _eventually(condition, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")


async def test_claim_confirm_and_redelivery(redis_client, redis_prefix) -> None:
    guard = _guard(redis_client, redis_prefix)
    event_id = uuid.uuid4()

    claim = await guard.claim("consumer", event_id)
    assert claim.state is ClaimState.CLAIMED
    assert claim.owner is not None
    assert claim.owner.startswith(PROCESSING_PREFIX)
    assert await _value(redis_client, claim.key) == claim.owner
    assert 0 < await redis_client.pttl(claim.key) <= guard.processing_ttl_ms

    assert (await guard.claim("consumer", event_id)).state is ClaimState.IN_PROGRESS

    assert await guard.confirm(claim)
    assert await _value(redis_client, claim.key) == COMPLETED
    assert await redis_client.pttl(claim.key) > SEVEN_DAYS_MS - 60_000
    assert (await guard.claim("consumer", event_id)).state is ClaimState.ALREADY_COMPLETED
    # Another consumer of the same event has its own claim.
    assert (await guard.claim("other-consumer", event_id)).state is ClaimState.CLAIMED


async def test_release_lets_the_event_be_claimed_again(redis_client, redis_prefix) -> None:
    guard = _guard(redis_client, redis_prefix)
    event_id = uuid.uuid4()
    claim = await guard.claim("consumer", event_id)

    assert await guard.release(claim)
    assert await redis_client.exists(claim.key) == 0
    assert (await guard.claim("consumer", event_id)).state is ClaimState.CLAIMED


async def test_concurrent_claims_have_one_winner(redis_client, redis_prefix) -> None:
    guards = [_guard(redis_client, redis_prefix) for _ in range(20)]
    event_id = uuid.uuid4()

    results = await asyncio.gather(*(g.claim("consumer", event_id) for g in guards))

    states = [r.state for r in results]
    assert states.count(ClaimState.CLAIMED) == 1
    assert states.count(ClaimState.IN_PROGRESS) == 19


async def test_expired_claim_is_taken_over_and_the_old_owner_cannot_touch_it(
    redis_client, redis_prefix
) -> None:
    slow = _guard(redis_client, redis_prefix, processing_ttl_s=0.2)
    fresh = _guard(redis_client, redis_prefix)
    event_id = uuid.uuid4()
    stale = await slow.claim("consumer", event_id)
    await _eventually(lambda: _absent(redis_client, stale.key))

    current = await fresh.claim("consumer", event_id)
    assert current.state is ClaimState.CLAIMED

    assert not await slow.confirm(stale)
    assert not await slow.release(stale)
    assert await _value(redis_client, current.key) == current.owner


async def test_unreachable_redis_fails_open(redis_prefix) -> None:
    unreachable = aioredis.from_url("redis://127.0.0.1:1", socket_connect_timeout=1)
    guard = _guard(unreachable, redis_prefix)
    try:
        claim = await guard.claim("consumer", uuid.uuid4())
        assert claim.state is ClaimState.UNAVAILABLE
        assert not await guard.confirm(claim)
        assert not await guard.release(claim)
    finally:
        await unreachable.aclose()


async def test_confirm_many_confirms_only_claims_still_owned(redis_client, redis_prefix) -> None:
    guard = _guard(redis_client, redis_prefix)
    owned = [await guard.claim("consumer", uuid.uuid4()) for _ in range(3)]
    taken_over = await guard.claim("consumer", uuid.uuid4())
    await redis_client.set(taken_over.key, f"{PROCESSING_PREFIX}someone-else")

    assert await guard.confirm_many([*owned, taken_over]) == 3

    assert [await _value(redis_client, c.key) for c in owned] == [COMPLETED] * 3
    assert await _value(redis_client, taken_over.key) == f"{PROCESSING_PREFIX}someone-else"
