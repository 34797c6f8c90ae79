"""The consumer loop against the real broker: dead letters, poison messages, rebalances."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
import structlog
from prometheus_client import REGISTRY

from common_core.errors import ErrorCode
from common_core.events.envelope import EventMetadata
from common_core.events.registry import encode
from huleedu_service_libs.database import create_engine, create_session_factory
from huleedu_service_libs.kafka.consumer import Outcome
from huleedu_service_libs.kafka.dead_letter import DEAD_LETTER_CODE_HEADER

pytestmark = pytest.mark.integration


async def test_undecodable_messages_are_dead_lettered_and_the_partition_moves_on(
    harness_factory,
) -> None:
    h = await harness_factory()
    handler = h.handler()
    good = h.envelope("essay-ok")
    unknown = json.loads(encode(h.envelope("essay-x")))
    unknown["event_type"] = "test.never.registered"
    violating = json.loads(encode(h.envelope("essay-y")))
    violating["data"]["batch_id"] = "not-a-uuid"
    poison_values = [
        b"this is not json",
        json.dumps(unknown).encode(),
        json.dumps(violating).encode(),
    ]
    for value in poison_values:
        await h.produce_raw(value, key="batch-key", headers={"origin": "test"})
    await h.produce(good)

    async with h.running(h.loop(handler, guard=h.guard())):
        await h.wait_until(lambda: _committed(h, {0: 4}), what="all four offsets committed")

    assert handler.calls == [good.event_id]
    assert (await h.effect_counts())[good.event_id] == 1
    letters = await h.dead_letters(3)
    assert [d.error.code for d in letters] == [
        ErrorCode.MALFORMED_EVENT,
        ErrorCode.UNKNOWN_EVENT_TYPE,
        ErrorCode.MALFORMED_EVENT,
    ]
    for offset, (letter, value) in enumerate(zip(letters, poison_values, strict=True)):
        assert letter.value == value
        assert letter.key == b"batch-key"
        assert letter.original_headers["origin"] == "test"
        assert dict(letter.headers)[DEAD_LETTER_CODE_HEADER] == letter.error.code.value.encode()
        assert letter.error.details["original_topic"] == h.topic
        assert letter.error.details["original_partition"] == 0
        assert letter.error.details["original_offset"] == offset
        assert letter.error.details["attempts"] == 1
        assert letter.error.service == h.settings.service_name
    assert "test.never.registered" in letters[1].error.message
    assert "batch_id" in letters[2].error.message


async def test_handler_that_always_fails_is_dead_lettered_after_n_attempts(
    harness_factory,
) -> None:
    h = await harness_factory()
    handler = h.handler(poison=frozenset({"poison"}))
    batch_id = uuid.uuid4()
    poison = h.envelope("poison", batch_id)
    after = h.envelope("essay-after", batch_id)  # same key: same partition, behind the poison
    await h.produce(poison)
    await h.produce(after)

    async with h.running(h.loop(handler, guard=h.guard(), max_attempts=4)):
        await h.wait_until(lambda: _committed(h, {0: 2}), what="both offsets committed")

    assert handler.count(poison.event_id) == 4
    assert handler.count(after.event_id) == 1
    counts = await h.effect_counts()
    assert counts[poison.event_id] == 0
    assert counts[after.event_id] == 1
    [letter] = await h.dead_letters(1)
    assert letter.error.code is ErrorCode.HANDLER_FAILED
    assert "poison item poison" in letter.error.message
    assert letter.error.details["attempts"] == 4
    assert letter.error.details["event_id"] == str(poison.event_id)
    assert letter.error.correlation_id == poison.correlation_id
    assert letter.value == encode(poison)
    assert letter.key == str(batch_id).encode()


@pytest.mark.parametrize("claim_ahead", [1, 20])
async def test_a_retried_message_holds_back_the_rest_of_its_partition(
    harness_factory, claim_ahead: int
) -> None:
    h = await harness_factory()
    batch_id = uuid.uuid4()
    items = ["first", "flaky", "third", "fourth"]
    for item in items:
        await h.produce(h.envelope(item, batch_id))
    handler = h.handler(flaky={"flaky": 2})

    loop = h.loop(handler, guard=h.guard(), max_attempts=3, claim_ahead=claim_ahead)
    async with h.running(loop):
        await h.wait_until(lambda: _committed(h, {0: 4}), what="all offsets committed")

    assert handler.items.count("flaky") == 3  # once per delivery: two failures, one success
    if claim_ahead == 1:
        assert handler.items == ["first", "flaky", "flaky", "flaky", "third", "fourth"]
    assert await h.effect_items() == items  # each committed once, in partition order


async def test_a_duplicate_inside_one_fetched_batch_is_skipped_by_the_guard(
    harness_factory,
) -> None:
    h = await harness_factory()
    envelope = h.envelope("essay-1")
    await h.produce(envelope)
    await h.produce(envelope)
    handler = h.handler()
    labels = {"consumer": h.consumer_name, "event_type": h.event_type, "layer": "guard"}
    before = REGISTRY.get_sample_value("huleedu_consumer_duplicates_skipped_total", labels) or 0

    async with h.running(h.loop(handler, guard=h.guard())):
        await h.wait_until(lambda: _committed(h, {0: 2}), what="both offsets committed")

    assert handler.calls == [envelope.event_id]
    assert (await h.effect_counts())[envelope.event_id] == 1
    after = REGISTRY.get_sample_value("huleedu_consumer_duplicates_skipped_total", labels)
    assert after == before + 1


async def test_rebalance_midway_loses_nothing_and_duplicates_nothing(harness_factory) -> None:
    h = await harness_factory(partitions=3)
    total = 300
    envelopes = [h.envelope(f"essay-{i}") for i in range(total)]
    first = h.handler(name="A", delay_s=0.01)
    second = h.handler(name="B", delay_s=0.01)
    ends: Counter[int] = Counter()

    async with h.running(h.loop(first, guard=h.guard())) as loop_a:
        for envelope in envelopes:
            ends[await h.produce(envelope)] += 1
        await h.wait_until(lambda: _effects_at_least(h, total // 3), what="a third handled")
        async with h.running(h.loop(second, guard=h.guard())):
            await h.wait_until(
                lambda: _effects_at_least(h, 2 * total // 3), what="two thirds handled"
            )
            await loop_a.halt()  # A leaves the group mid-way; B takes every partition
            await h.wait_until(lambda: _effects_at_least(h, total), what="all handled")
            await h.wait_until(
                lambda: _committed(h, dict(ends)), what="every partition committed to its end"
            )

    assert len(ends) == 3
    counts = await h.effect_counts()
    assert set(counts) == {e.event_id for e in envelopes}
    assert set(counts.values()) == {1}
    assert first.calls
    assert second.calls


async def test_database_outage_defers_without_counting_an_attempt(harness_factory) -> None:
    h = await harness_factory()
    envelope = h.envelope("essay-1")
    handler = h.handler()
    unreachable = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    guard = h.guard()
    loop = h.loop(
        handler, guard=guard, sessions=create_session_factory(unreachable), max_attempts=1
    )
    try:
        for _ in range(3):
            assert await loop.process(h.record(envelope)) is Outcome.DEFERRED
    finally:
        await unreachable.dispose()

    assert handler.calls == []
    assert await h.redis.exists(guard.key(h.consumer_name, envelope.event_id)) == 0
    # Still handled normally once the database is back (max_attempts=1 was never spent).
    assert await h.loop(handler, guard=guard).process(h.record(envelope)) is Outcome.HANDLED
    await h.dead_letters(0)


async def test_handler_runs_with_the_event_context_bound_to_logs(harness_factory) -> None:
    h = await harness_factory()
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    envelope = h.envelope("essay-1").model_copy(
        update={"metadata": EventMetadata(traceparent=f"00-{trace_id}-{span_id}-01")}
    )
    seen: list[dict[str, object]] = []

    async def capture(_envelope, _uow) -> None:
        seen.append(dict(structlog.contextvars.get_contextvars()))

    assert (
        await h.loop(h.handler(during=capture), guard=h.guard()).process(h.record(envelope))
        is Outcome.HANDLED
    )

    [context] = seen
    assert context["event_id"] == str(envelope.event_id)
    assert context["correlation_id"] == str(envelope.correlation_id)
    assert context["batch_id"] == str(envelope.data.batch_id)
    assert context["trace_id"] == trace_id
    assert context["span_id"] == span_id
    assert "event_id" not in structlog.contextvars.get_contextvars()


async def _committed(h, expected: dict[int, int]) -> bool:
    return bool(await h.committed_offsets() == expected)


async def _effects_at_least(h, count: int) -> bool:
    return bool(await h.effect_total() >= count)
