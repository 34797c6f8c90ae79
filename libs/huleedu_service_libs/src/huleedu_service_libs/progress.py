"""Announcing batch progress to every gateway replica through Redis pub/sub.

The announcement is only a wake-up: the recorded log in result_aggregator is the truth, so a
listener that misses a message (not yet subscribed, Redis restarted) recovers by reading the
log after the last `seq` it delivered.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from uuid import UUID

import redis.asyncio as aioredis

from common_core.progress import ProgressEvent


def progress_channel(namespace: str, batch_id: UUID) -> str:
    """The pub/sub channel of one batch; `namespace` is the deployment's topic prefix."""
    return f"{namespace}progress:{batch_id}"


async def announce(redis: aioredis.Redis, namespace: str, event: ProgressEvent) -> None:
    """Tell whoever listens to this batch that `event` was recorded."""
    await redis.publish(progress_channel(namespace, event.batch_id), event.model_dump_json())


async def listen(
    redis: aioredis.Redis, namespace: str, batch_id: UUID, *, poll_s: float = 1.0
) -> AsyncGenerator[ProgressEvent | None, None]:
    """Announcements for one batch as they arrive; `None` after `poll_s` without one.

    The `None` ticks let the caller re-read the log (catching anything missed) and notice a
    client that went away. Subscribe before reading the backlog so nothing falls in between.
    """
    pubsub = redis.pubsub()
    await pubsub.subscribe(progress_channel(namespace, batch_id))
    try:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=poll_s)
            if message is None:
                yield None
                continue
            yield ProgressEvent.model_validate_json(message["data"])
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()  # type: ignore[no-untyped-call]
