"""Per-teacher rate limits in Redis: a sliding window log, checked and recorded atomically.

One sorted set per (limit, teacher) holds the admission times of the last window, scored by
Redis server time so every gateway replica shares one clock. A Lua script drops expired
entries, counts, and admits (records) or refuses in one step, so concurrent requests from
several replicas can never overshoot the limit. A refusal says exactly when the oldest
admission leaves the window: that is the `Retry-After` the client gets.

When Redis cannot be reached the limiter fails open (the request is served, a warning is
logged and counted): a rate limit protects capacity, it must not take the API down with it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from huleedu_service_libs import metrics
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)

_SLIDING_WINDOW = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local member = ARGV[3]
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window_ms)
local used = redis.call('ZCARD', key)
if used < limit then
  redis.call('ZADD', key, now_ms, member)
  redis.call('PEXPIRE', key, window_ms)
  return {1, limit - used - 1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local retry_ms = tonumber(oldest[2]) + window_ms - now_ms
if retry_ms < 1 then
  retry_ms = 1
end
return {0, 0, retry_ms}
"""


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` admissions per `window_ms` for one subject, under the name `name`."""

    name: str
    limit: int
    window_ms: int


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    remaining: int
    retry_after_ms: int

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds (HTTP's `Retry-After` unit), rounded up so a retry is never early."""
        return max(1, -(-self.retry_after_ms // 1000))


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, key_prefix: str) -> None:
        self._script = redis.register_script(_SLIDING_WINDOW)
        self._key_prefix = key_prefix
        self._refused = metrics.counter(
            "huleedu_gateway_rate_limited_total",
            "Requests refused by a per-teacher rate limit.",
            ("limit",),
        )
        self._unavailable = metrics.counter(
            "huleedu_gateway_rate_limiter_unavailable_total",
            "Requests admitted without a rate-limit check because Redis was unreachable.",
            ("limit",),
        )

    def key(self, limit: RateLimit, subject: str) -> str:
        return f"{self._key_prefix}:ratelimit:{limit.name}:{subject}"

    async def hit(self, limit: RateLimit, subject: str) -> RateLimitDecision:
        """Admit and record one request of `subject`, or refuse it with the wait until a slot."""
        try:
            allowed, remaining, retry_after_ms = await self._script(
                keys=[self.key(limit, subject)],
                args=[limit.limit, limit.window_ms, uuid.uuid4().hex],
            )
        except RedisError as error:
            self._unavailable.labels(limit.name).inc()
            _log.warning("rate_limiter_unavailable", limit=limit.name, error=str(error))
            return RateLimitDecision(allowed=True, remaining=limit.limit, retry_after_ms=0)
        decision = RateLimitDecision(
            allowed=bool(allowed), remaining=int(remaining), retry_after_ms=int(retry_after_ms)
        )
        if not decision.allowed:
            self._refused.labels(limit.name).inc()
        return decision
