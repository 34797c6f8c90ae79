"""The Redis side of the request queue: an ordered, de-duplicated index of queued request ids.

One sorted set, scored by priority then age (`priority * 1e13 + created_ms`: 0 is served
first, then the oldest), so ZPOPMIN hands out the next request atomically and ZADD NX keeps a
request id in it at most once. The rows in Postgres are the truth; this index is rebuilt
from the rows in state `queued` whenever Redis may have lost it.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import redis.asyncio as aioredis

from llm_provider.repository import QueueEntry

_PRIORITY_WEIGHT = 1e13  # above any epoch-milliseconds value until the year 2286


def queue_score(entry: QueueEntry) -> float:
    return entry.priority * _PRIORITY_WEIGHT + entry.created_at.timestamp() * 1000.0


class RequestQueue:
    def __init__(self, redis: aioredis.Redis, *, key_prefix: str) -> None:
        self._redis = redis
        self.key = f"{key_prefix}:llm_provider:queue"

    async def push(self, entries: Iterable[QueueEntry]) -> int:
        """Add ids not already queued; returns how many were new."""
        mapping = {str(entry.request_id): queue_score(entry) for entry in entries}
        if not mapping:
            return 0
        added = await self._redis.zadd(self.key, mapping, nx=True)
        return int(added or 0)

    async def pop(self, timeout_s: float) -> UUID | None:
        """The next request id, waiting up to `timeout_s` for one to arrive."""
        popped = await self._redis.bzpopmin([self.key], timeout=timeout_s)
        if popped is None:
            return None
        member = popped[1]
        return UUID(member.decode() if isinstance(member, bytes) else str(member))

    async def depth(self) -> int:
        return int(await self._redis.zcard(self.key))

    async def members(self) -> list[UUID]:
        raw = await self._redis.zrange(self.key, 0, -1)
        return [UUID(m.decode() if isinstance(m, bytes) else str(m)) for m in raw]
