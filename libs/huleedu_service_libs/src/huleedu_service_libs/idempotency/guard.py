"""The Redis idempotency guard: a fast first line against redelivered events.

A claim is `processing:<owner>` with a short TTL, set atomically (`SET NX PX`); it becomes
`completed` with a long TTL only after the handler's transaction committed, and only by the
owner that holds it. A crashed owner's claim simply expires, so the event is claimed and
processed again. Redis being unreachable never blocks processing: the guard answers
UNAVAILABLE and the database inbox keeps the effect exactly-once (invariant 2).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from huleedu_service_libs.logging import get_logger

logger = get_logger(__name__)

PROCESSING_PREFIX = "processing:"
COMPLETED = "completed"

# Both scripts act only if the key still holds the caller's own claim: a claim that expired
# and was taken over by another consumer is never confirmed or deleted by the first owner.
_CONFIRM_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
end
return 0
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

_REDIS_ERRORS = (RedisError, OSError, TimeoutError)


class ClaimState(StrEnum):
    CLAIMED = "claimed"
    ALREADY_COMPLETED = "already_completed"
    IN_PROGRESS = "in_progress"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class ClaimResult:
    """The answer to a claim; `owner` is the stored value when this caller holds the claim."""

    state: ClaimState
    key: str
    owner: str | None = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _owned(claims: Sequence[ClaimResult]) -> list[tuple[str, str]]:
    """(key, owner) of the claims the caller holds."""
    return [
        (c.key, c.owner) for c in claims if c.state is ClaimState.CLAIMED and c.owner is not None
    ]


class IdempotencyGuard:
    """Claims, confirms and releases events per consumer in Redis.

    `operation_timeout_s` bounds every Redis call so a hung Redis behaves like a down one;
    after a failure the guard stays UNAVAILABLE for `unavailable_cooldown_s` instead of
    paying a failed round trip per message.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        key_prefix: str,
        processing_ttl_s: float = 60.0,
        completed_ttl_s: float = 7 * 24 * 3600.0,
        operation_timeout_s: float = 2.0,
        unavailable_cooldown_s: float = 1.0,
    ) -> None:
        self._redis = redis
        self._key_prefix = key_prefix
        self.processing_ttl_ms = int(processing_ttl_s * 1000)
        self.completed_ttl_ms = int(completed_ttl_s * 1000)
        self._timeout_s = operation_timeout_s
        self._cooldown_s = unavailable_cooldown_s
        self._unavailable_until = 0.0
        self._confirm = redis.register_script(_CONFIRM_LUA)
        self._release = redis.register_script(_RELEASE_LUA)

    def key(self, consumer: str, event_id: UUID) -> str:
        return f"{self._key_prefix}:idempotency:{consumer}:{event_id}"

    async def claim(self, consumer: str, event_id: UUID) -> ClaimResult:
        """Claim one event: CLAIMED (yours), ALREADY_COMPLETED, IN_PROGRESS or UNAVAILABLE."""
        [result] = await self.claim_many(consumer, [event_id])
        return result

    async def claim_many(self, consumer: str, event_ids: Sequence[UUID]) -> list[ClaimResult]:
        """Claim several events in one round trip (two when some are taken), in order.

        Each claim is its own atomic `SET NX PX`; a repeated event id is CLAIMED once and
        IN_PROGRESS after that.
        """
        keys = [self.key(consumer, event_id) for event_id in event_ids]
        if self._cooling_down():
            return [ClaimResult(ClaimState.UNAVAILABLE, key) for key in keys]
        results: list[ClaimResult | None] = [None] * len(keys)
        try:
            async with asyncio.timeout(self._timeout_s):
                # A claim that expires between SET and GET is claimable again: one more round.
                todo = list(range(len(keys)))
                for _ in range(2):
                    todo = await self._claim_round(keys, todo, results)
                    if not todo:
                        break
        except _REDIS_ERRORS as exc:
            self._mark_unavailable("claim", exc)
            return [ClaimResult(ClaimState.UNAVAILABLE, key) for key in keys]
        return [
            result if result is not None else ClaimResult(ClaimState.IN_PROGRESS, key)
            for result, key in zip(results, keys, strict=True)
        ]

    async def _claim_round(
        self, keys: list[str], todo: list[int], results: list[ClaimResult | None]
    ) -> list[int]:
        """SET NX the `todo` keys, GET those already set; returns the ones that vanished."""
        owners = {i: f"{PROCESSING_PREFIX}{uuid.uuid4().hex}" for i in todo}
        async with self._redis.pipeline(transaction=False) as pipe:
            for i in todo:
                pipe.set(keys[i], owners[i], nx=True, px=self.processing_ttl_ms)
            claimed = await pipe.execute()
        taken = []
        for i, ok in zip(todo, claimed, strict=True):
            if ok:
                results[i] = ClaimResult(ClaimState.CLAIMED, keys[i], owners[i])
            else:
                taken.append(i)
        if not taken:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for i in taken:
                pipe.get(keys[i])
            values = await pipe.execute()
        vanished = []
        for i, value in zip(taken, values, strict=True):
            current = _text(value)
            if current == COMPLETED:
                results[i] = ClaimResult(ClaimState.ALREADY_COMPLETED, keys[i])
            elif current is not None:
                results[i] = ClaimResult(ClaimState.IN_PROGRESS, keys[i])
            else:
                vanished.append(i)
        return vanished

    async def confirm(self, claim: ClaimResult) -> bool:
        """Turn the caller's claim into `completed` (long TTL); call only after the commit."""
        return await self.confirm_many([claim]) == 1

    async def confirm_many(self, claims: Sequence[ClaimResult]) -> int:
        """`confirm` for several claims in one round trip; returns how many were confirmed.

        A claim is confirmed only while it still holds the caller's owner token. On a Redis
        failure nothing is confirmed: the claims expire and the inbox stops a redelivery.
        """
        owned = _owned(claims)
        results = await self._run_script(
            "confirm", self._confirm, owned, [COMPLETED, self.completed_ttl_ms]
        )
        lost = [key for (key, _), done in zip(owned, results, strict=False) if not done]
        if lost and results:
            logger.warning("idempotency claims lost before confirmation", keys=lost)
        return sum(1 for done in results if done)

    async def release(self, claim: ClaimResult) -> bool:
        """Give the claim up (the handler failed) so a retry can claim the event at once."""
        return await self.release_many([claim]) == 1

    async def release_many(self, claims: Sequence[ClaimResult]) -> int:
        """`release` for several claims in one round trip; returns how many were released."""
        results = await self._run_script("release", self._release, _owned(claims), [])
        return sum(1 for done in results if done)

    async def _run_script(
        self,
        operation: str,
        script: AsyncScript,
        owned: list[tuple[str, str]],
        extra_args: list[str | int],
    ) -> list[Any]:
        """Run an owner-checked script per claim; [] when Redis is unavailable."""
        if not owned:
            return []
        try:
            async with asyncio.timeout(self._timeout_s):
                if len(owned) == 1:  # a pipeline would add a SCRIPT EXISTS round trip
                    key, owner = owned[0]
                    return [await script(keys=[key], args=[owner, *extra_args])]
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key, owner in owned:
                        await script(keys=[key], args=[owner, *extra_args], client=pipe)
                    return list(await pipe.execute())
        except _REDIS_ERRORS as exc:
            # Unconfirmed or unreleased claims expire on their own; the inbox stays exact.
            self._mark_unavailable(operation, exc)
            return []

    def _cooling_down(self) -> bool:
        return time.monotonic() < self._unavailable_until

    def _mark_unavailable(self, operation: str, exc: BaseException) -> None:
        self._unavailable_until = time.monotonic() + self._cooldown_s
        logger.warning(
            "idempotency guard unavailable, failing open",
            operation=operation,
            error=f"{type(exc).__name__}: {exc}",
        )
