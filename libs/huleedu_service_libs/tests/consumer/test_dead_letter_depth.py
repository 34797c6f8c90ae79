"""`huleedu_dead_letters_waiting`: what a dead-letter topic holds beyond the replay's progress."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from huleedu_service_libs.kafka.dead_letter_depth import DeadLetterDepth, waiting
from huleedu_service_libs.settings import ServiceSettings

offsets = st.integers(min_value=0, max_value=2**40)


@given(start=offsets, extra=offsets, replayed_to=st.none() | offsets)
def test_waiting_counts_from_the_replay_position_within_the_retained_records(
    start: int, extra: int, replayed_to: int | None
) -> None:
    end = start + extra
    count = waiting(end, start, replayed_to)

    assert 0 <= count <= extra
    if replayed_to is None or replayed_to <= start:
        assert count == extra
    elif replayed_to <= end:
        assert count == end - replayed_to


@pytest.mark.integration
async def test_depth_is_what_was_dead_lettered_minus_what_was_replayed(harness_factory) -> None:
    h = await harness_factory()
    for n in range(3):
        await h.produce_raw(f"not an event {n}".encode(), key="batch-key")
    async with h.running(h.loop(h.handler(), guard=h.guard())):
        await h.wait_until(lambda: _committed(h, 3), what="three offsets committed")
    await h.dead_letters(3)
    depth = DeadLetterDepth(h.settings, [h.logical_topic])

    assert await _measure(h, depth) == {h.logical_topic: 3}
    # The replay tool's progress: the first two records replayed and committed.
    await _commit_replay_progress(h, 2)
    assert await _measure(h, depth) == {h.logical_topic: 1}

    stop = asyncio.Event()
    task = asyncio.create_task(depth.run(stop))
    labels = {"topic": h.logical_topic}
    await h.wait_until(
        lambda: _gauge_is(labels, 1.0), timeout_s=30, what="the gauge set by the running job"
    )
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert REGISTRY.get_sample_value("huleedu_dead_letters_waiting", labels) is None


async def _measure(h: Any, depth: DeadLetterDepth) -> dict[str, int]:
    servers = h.settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        return await depth.measure(admin, consumer)
    finally:
        await consumer.stop()
        await admin.close()


async def _commit_replay_progress(h: Any, offset: int) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=h.settings.kafka_bootstrap_servers,
        group_id=h.namer.group(f"replay-{h.logical_topic}"),
        enable_auto_commit=False,
    )
    partitions = [
        TopicPartition(h.dead_letter_topic, p) for p in range(h.settings.kafka_partitions)
    ]
    consumer.assign(partitions)
    await consumer.start()
    try:
        # The dead letters keep their key, so they sit on the partition the key hashes to.
        ends = await consumer.end_offsets(partitions)
        [holding] = [tp for tp, end in ends.items() if end > 0]
        await consumer.commit({holding: offset})
    finally:
        await consumer.stop()


async def _committed(h: Any, offset: int) -> bool:
    return bool(await h.committed_offsets() == {0: offset})


async def _gauge_is(labels: dict[str, str], value: float) -> bool:
    return REGISTRY.get_sample_value("huleedu_dead_letters_waiting", labels) == value


async def test_an_unreachable_broker_is_retried_without_ending_the_worker() -> None:
    settings = ServiceSettings(kafka_bootstrap_servers="127.0.0.1:1")
    depth = DeadLetterDepth(settings, ["huleedu.test.unreachable.v1"], interval_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(depth.run(stop))
    await asyncio.sleep(0.5)

    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=30)
