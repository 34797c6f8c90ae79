"""Invariant 2 end to end: at-least-once delivery, exactly-once effect.

Every test runs the real loop (or its per-message step) against real Redis, Postgres and the
broker; the effect of an event is one row in `effects`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from sqlalchemy import select, text

from huleedu_service_libs.idempotency import ClaimResult, IdempotencyGuard
from huleedu_service_libs.idempotency.guard import COMPLETED, PROCESSING_PREFIX
from huleedu_service_libs.kafka.consumer import Outcome

pytestmark = pytest.mark.integration

SIX_DAYS_MS = 6 * 24 * 3600 * 1000


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_claim_is_confirmed_only_after_the_transaction_committed(harness_factory) -> None:
    h = await harness_factory()
    envelope = h.envelope("essay-1")
    key = h.guard().key(h.consumer_name, envelope.event_id)
    seen_while_handling: list[str | None] = []
    committed_at_confirm: list[bool] = []

    async def look_at_claim(_envelope, _uow) -> None:
        seen_while_handling.append(await h.redis_value(key))

    class CheckingGuard(IdempotencyGuard):
        async def confirm_many(self, claims: Sequence[ClaimResult]) -> int:
            committed_at_confirm.append((await h.effect_counts())[envelope.event_id] == 1)
            return await super().confirm_many(claims)

    handler = h.handler(during=look_at_claim)
    loop = h.loop(handler, guard=CheckingGuard(h.redis, key_prefix=h.settings.redis_key_prefix))
    await h.produce(envelope)
    async with h.running(loop):
        await h.wait_until(lambda: _equals(h.redis_value(key), COMPLETED), what="completed claim")

    assert len(seen_while_handling) == 1
    assert seen_while_handling[0] is not None
    assert seen_while_handling[0].startswith(PROCESSING_PREFIX)
    assert committed_at_confirm == [True]
    assert await h.redis.pttl(key) > SIX_DAYS_MS
    assert (await h.effect_counts())[envelope.event_id] == 1


async def test_crash_between_handling_and_commit_processes_the_event_again(
    harness_factory,
) -> None:
    h = await harness_factory()
    envelope = h.envelope("essay-1")
    # The dead process's claim stays `processing` until its short TTL runs out.
    guard = h.guard(processing_ttl_s=1.0)
    crashing = h.handler(crash_first=1)
    await h.produce(envelope)

    stop = asyncio.Event()
    with pytest.raises(h.SimulatedCrash):
        await asyncio.wait_for(h.loop(crashing, guard=guard).run(stop), timeout=60)
    assert await h.effect_total() == 0
    assert await h.inbox_count() == 0

    handler = h.handler()
    async with h.running(h.loop(handler, guard=guard)):
        await h.wait_until(lambda: _has_effects(h, 1), what="the effect")
        await h.wait_until(lambda: _committed(h, {0: 1}), what="the offset commit")

    assert handler.calls == [envelope.event_id]
    assert (await h.effect_counts())[envelope.event_id] == 1


async def test_crash_before_confirmation_is_stopped_by_the_inbox(harness_factory) -> None:
    h = await harness_factory()
    envelope = h.envelope("essay-1")

    class CrashOnConfirm(IdempotencyGuard):
        async def confirm_many(self, claims: Sequence[ClaimResult]) -> int:
            raise h.SimulatedCrash("process died after commit, before confirmation")

    crashing_guard = CrashOnConfirm(
        h.redis, key_prefix=h.settings.redis_key_prefix, processing_ttl_s=1.0
    )
    first = h.handler()
    await h.produce(envelope)
    with pytest.raises(h.SimulatedCrash):
        await asyncio.wait_for(h.loop(first, guard=crashing_guard).run(asyncio.Event()), 60)
    assert first.calls == [envelope.event_id]
    assert await h.effect_total() == 1

    labels = {"consumer": h.consumer_name, "event_type": h.event_type}
    inbox_before = _metric("huleedu_consumer_duplicates_skipped_total", layer="inbox", **labels)
    second = h.handler()
    guard = h.guard()
    key = guard.key(h.consumer_name, envelope.event_id)
    async with h.running(h.loop(second, guard=guard)):
        await h.wait_until(lambda: _committed(h, {0: 1}), what="the offset commit")

    assert second.calls == []
    assert (await h.effect_counts())[envelope.event_id] == 1
    assert await h.redis_value(key) == COMPLETED
    assert (
        _metric("huleedu_consumer_duplicates_skipped_total", layer="inbox", **labels)
        == inbox_before + 1
    )


async def test_redis_unreachable_fails_open_and_the_inbox_stops_duplicates(
    harness_factory,
) -> None:
    h = await harness_factory()
    unreachable = aioredis.from_url("redis://127.0.0.1:1", socket_connect_timeout=1)
    envelope = h.envelope("essay-1")
    handler = h.handler()
    try:
        async with h.running(h.loop(handler, guard=h.guard(unreachable))):
            await h.produce(envelope)
            await h.produce(envelope)  # a redelivery, as after a lost offset commit
            await h.wait_until(lambda: _committed(h, {0: 2}), what="both offsets committed")
    finally:
        await unreachable.aclose()

    assert handler.calls == [envelope.event_id]
    assert (await h.effect_counts())[envelope.event_id] == 1


async def test_two_consumers_racing_one_event_through_the_guard(harness_factory) -> None:
    h = await harness_factory()
    envelope = h.envelope("essay-1")
    record = h.record(envelope)
    gate = asyncio.Event()
    slow, other = h.handler(gate=gate), h.handler()
    first = h.loop(slow, guard=h.guard())
    second = h.loop(other, guard=h.guard())

    racing = asyncio.create_task(first.process(record))
    await slow.entered.wait()
    assert await second.process(record) is Outcome.BUSY  # never acknowledged unprocessed
    gate.set()
    assert await racing is Outcome.HANDLED
    assert await second.process(record) is Outcome.DUPLICATE

    assert len(slow.calls) + len(other.calls) == 1
    assert (await h.effect_counts())[envelope.event_id] == 1


async def test_two_consumers_racing_one_event_without_redis_meet_in_the_inbox(
    harness_factory,
) -> None:
    h = await harness_factory()
    envelope = h.envelope("essay-1")
    record = h.record(envelope)
    gate = asyncio.Event()
    slow, other = h.handler(gate=gate), h.handler()
    first, second = h.loop(slow, guard=None), h.loop(other, guard=None)

    racing = asyncio.create_task(first.process(record))
    await slow.entered.wait()
    blocked = asyncio.create_task(second.process(record))
    await h.wait_until(lambda: _a_backend_waits_on_a_lock(h), what="the second inbox insert")
    gate.set()

    assert sorted([await racing, await blocked]) == sorted([Outcome.HANDLED, Outcome.DUPLICATE])
    assert other.calls == []
    assert (await h.effect_counts())[envelope.event_id] == 1


async def test_stale_processing_claim_is_recovered(harness_factory) -> None:
    h = await harness_factory()
    envelope = h.envelope("essay-1")
    guard = h.guard()
    key = guard.key(h.consumer_name, envelope.event_id)
    handler = h.handler()
    loop = h.loop(handler, guard=guard)
    # A claim left by a consumer that died: it only expires.
    await h.redis.set(key, f"{PROCESSING_PREFIX}dead-owner", px=3000)

    assert await loop.process(h.record(envelope)) is Outcome.BUSY
    assert handler.calls == []
    await h.wait_until(lambda: _gone(h, key), what="the stale claim to expire")
    assert await loop.process(h.record(envelope)) is Outcome.HANDLED

    assert handler.calls == [envelope.event_id]
    assert await h.redis_value(key) == COMPLETED
    assert (await h.effect_counts())[envelope.event_id] == 1


async def test_handler_error_rolls_back_and_releases_the_claim(harness_factory) -> None:
    h = await harness_factory()
    envelope = h.envelope("essay-1")
    guard = h.guard()
    key = guard.key(h.consumer_name, envelope.event_id)
    handler = h.handler(fail_first=1)
    loop = h.loop(handler, guard=guard)

    assert await loop.process(h.record(envelope)) is Outcome.RETRY
    assert await h.redis.exists(key) == 0  # released: the retry claims at once
    assert await h.effect_total() == 0  # the write before the error was rolled back
    assert await h.inbox_count() == 0

    assert await loop.process(h.record(envelope)) is Outcome.HANDLED
    assert handler.calls == [envelope.event_id, envelope.event_id]
    assert (await h.effect_counts())[envelope.event_id] == 1
    assert await h.redis_value(key) == COMPLETED


async def test_failing_handler_runs_once_per_delivery_then_dead_letters(harness_factory) -> None:
    h = await harness_factory()
    envelope = h.envelope("poison")
    handler = h.handler(poison=frozenset({"poison"}))
    guard = h.guard()
    await h.produce(envelope)

    async with h.running(h.loop(handler, guard=guard, max_attempts=3)):
        await h.wait_until(lambda: _committed(h, {0: 1}), what="the offset commit")

    [dead] = await h.dead_letters(1)
    assert dead.error.details["attempts"] == 3
    assert handler.calls == [envelope.event_id] * 3
    assert await h.effect_total() == 0
    # Not marked completed: a replay from the dead-letter topic is processed.
    assert await h.redis.exists(guard.key(h.consumer_name, envelope.event_id)) == 0


async def test_failing_handler_is_retried_through_the_loop_without_partial_effects(
    harness_factory,
) -> None:
    h = await harness_factory()
    envelope = h.envelope("essay-1")
    handler = h.handler(fail_first=2)
    await h.produce(envelope)

    async with h.running(h.loop(handler, guard=h.guard(), max_attempts=3)):
        await h.wait_until(lambda: _committed(h, {0: 1}), what="the offset commit")

    assert handler.calls == [envelope.event_id] * 3
    assert (await h.effect_counts())[envelope.event_id] == 1
    await h.dead_letters(0)


async def _equals(value, expected) -> bool:
    return bool(await value == expected)


async def _has_effects(h, count: int) -> bool:
    return bool(await h.effect_total() >= count)


async def _committed(h, expected: dict[int, int]) -> bool:
    return bool(await h.committed_offsets() == expected)


async def _gone(h, key: str) -> bool:
    return bool(await h.redis.exists(key) == 0)


async def _a_backend_waits_on_a_lock(h) -> bool:
    async with h.engine.connect() as conn:
        waiting = await conn.execute(
            select(text("count(*)"))
            .select_from(text("pg_stat_activity"))
            .where(text("wait_event_type = 'Lock' and datname = current_database()"))
        )
        return bool(waiting.scalar_one() > 0)
