"""Progress is announced on Redis only after its transaction commits, as recorded in the log."""

from __future__ import annotations

import asyncio

import pytest

from common_core.progress import ProgressEvent
from huleedu_service_libs.progress import progress_channel

from .conftest import Ras, story

pytestmark = pytest.mark.integration


async def next_announcement(pubsub, timeout_s: float = 5.0) -> ProgressEvent | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is not None:
            return ProgressEvent.model_validate_json(message["data"])
    return None


async def test_a_real_subscriber_receives_each_committed_change_and_nothing_rolled_back(
    ras: Ras,
) -> None:
    told = story(pipeline=False)
    pubsub = ras.redis.pubsub()
    await pubsub.subscribe(progress_channel(ras.settings.kafka_topic_prefix, told.batch_id))
    try:
        await ras.handle(told.events[0])
        registered = await next_announcement(pubsub)
        assert registered is not None
        assert (registered.seq, registered.kind) == (1, "batch.registered")
        assert registered == (await ras.progress(told.batch_id))[0]

        async with ras.uow() as uow:  # handled, then rolled back: no announcement, no seq used
            await ras.handlers[told.events[1].event_type](told.events[1], uow)
            await uow.rollback()
        assert await next_announcement(pubsub, timeout_s=0.5) is None

        await ras.handle(told.events[1])
        rejected = await next_announcement(pubsub)
        assert rejected is not None
        assert (rejected.seq, rejected.kind) == (2, "file.rejected")
        assert rejected.data["file_name"] == "bad.pdf"
        assert await ras.seqs(told.batch_id) == [1, 2]
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()  # type: ignore[no-untyped-call]
