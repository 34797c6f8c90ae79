"""Progress announcements over real Redis pub/sub: subscribe, receive, tick when quiet."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import redis.asyncio as aioredis

from common_core.progress import ProgressEvent
from huleedu_service_libs.progress import announce, listen, progress_channel


def _event(batch_id: uuid.UUID, seq: int) -> ProgressEvent:
    return ProgressEvent(
        batch_id=batch_id, seq=seq, kind="essay.spellchecked", at=datetime.now(UTC), data={"n": seq}
    )


async def test_a_listener_receives_its_batch_only_and_ticks_when_quiet(
    redis_client: aioredis.Redis, topic_prefix: str
) -> None:
    batch, other = uuid.uuid4(), uuid.uuid4()
    received: list[ProgressEvent | None] = []
    subscribed = asyncio.Event()

    async def consume() -> None:
        stream = listen(redis_client, topic_prefix, batch, poll_s=0.2)
        async for item in stream:
            subscribed.set()
            received.append(item)
            if len([r for r in received if r is not None]) == 2:
                await stream.aclose()
                return

    task = asyncio.create_task(consume())
    await asyncio.wait_for(subscribed.wait(), timeout=5)  # first quiet tick: subscribed
    await announce(redis_client, topic_prefix, _event(other, 1))
    await announce(redis_client, topic_prefix, _event(batch, 1))
    await announce(redis_client, topic_prefix, _event(batch, 2))
    await asyncio.wait_for(task, timeout=5)

    events = [r for r in received if r is not None]
    assert [(e.batch_id, e.seq) for e in events] == [(batch, 1), (batch, 2)]
    assert None in received
    # The subscription is gone once the listener stops.
    assert await redis_client.pubsub_numsub(progress_channel(topic_prefix, batch)) == [
        (progress_channel(topic_prefix, batch).encode(), 0)
    ]
