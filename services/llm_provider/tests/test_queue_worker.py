"""The queue and its worker on real Postgres and Redis: one callback per request, always."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from llm_provider.clock import FakeClock
from llm_provider.handlers import event_handlers
from llm_provider.models import RequestState, comparison_requests, metadata
from llm_provider.repository import RequestRepository
from llm_provider.service import DEFINITION
from llm_provider.worker import ComparisonWorker
from lps_harness import (  # type: ignore[import-not-found]
    Lps,
    comparison_request,
    eventually,
)
from sqlalchemy import update

from common_core.errors import ErrorCode
from common_core.events import REGISTRY
from common_core.events.llm import LLMComparisonResult, ModelPreference
from huleedu_service_libs.testing.schema_drift import check_migrations_match_models

pytestmark = pytest.mark.integration


def results(rows: list[dict[str, Any]]) -> list[LLMComparisonResult]:
    return [LLMComparisonResult.model_validate(row["payload"]["data"]) for row in rows]


async def run_until(worker: ComparisonWorker, condition: Any) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await eventually(condition)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=60)


async def test_migrations_match_models(database_url: str) -> None:
    await check_migrations_match_models(database_url, DEFINITION.migrations_path, metadata)


async def test_a_request_reaches_the_queue_only_once_its_row_has_committed(lps: Lps) -> None:
    """A worker must never pop an id whose row it cannot see yet (it would wait or drop it)."""
    kept, rolled_back = comparison_request(), comparison_request()
    handler = event_handlers(lps.queue)[REGISTRY.spec_for_model(type(kept)).event_type]
    async with lps.unit_of_work() as uow:
        await handler(REGISTRY.envelope(kept, source_service="cj_assessment"), uow)
        assert await lps.queue.members() == []  # written, not committed: not queued
        await uow.commit()
    assert await lps.queue.members() == [kept.request_id]

    async with lps.unit_of_work() as uow:
        await handler(REGISTRY.envelope(rolled_back, source_service="cj_assessment"), uow)
        await uow.rollback()
    assert await lps.queue.members() == [kept.request_id]
    async with lps.sessions() as session:
        assert await RequestRepository(session).get(rolled_back.request_id) is None


async def test_a_request_delivered_three_times_is_judged_and_answered_once(lps: Lps) -> None:
    request = comparison_request()
    handler = event_handlers(lps.queue)[REGISTRY.spec_for_model(type(request)).event_type]
    for _ in range(3):  # three distinct deliveries (new event ids) of the same request
        envelope = REGISTRY.envelope(request, source_service="cj_assessment")
        async with lps.unit_of_work() as uow:
            await handler(envelope, uow)
            await uow.commit()
    assert await lps.queue.members() == [request.request_id]

    async def answered() -> bool:
        return bool(await lps.callback_count() == 1)

    await run_until(lps.worker(), answered)
    [result] = results(await lps.callbacks_written())
    assert result.request_id == request.request_id
    assert result.winner is not None
    assert lps.provider.calls == Counter({request.request_id: 1})
    assert await lps.queue.depth() == 0


async def test_a_thousand_requests_at_concurrency_eight_get_a_thousand_callbacks(
    lps: Lps,
) -> None:
    batch = comparison_request().batch_id
    requests = [comparison_request(batch_id=batch) for _ in range(1000)]
    assert await lps.accept(requests) == 1000

    async def all_answered() -> bool:
        return bool(await lps.callback_count() >= 1000)

    await run_until(lps.worker(concurrency=8), all_answered)
    answered = results(await lps.callbacks_written())
    assert len(answered) == 1000
    assert {r.request_id for r in answered} == {r.request_id for r in requests}
    assert all(r.winner is not None and r.error is None for r in answered)
    assert sum(lps.provider.calls.values()) == 1000
    assert 1 < lps.provider.peak <= 8
    async with lps.sessions() as session:
        [ledger] = await RequestRepository(session).batch_costs(batch)
    assert (ledger.provider, ledger.requests) == ("offline", 1000)
    assert ledger.input_tokens == sum(r.input_tokens for r in answered) > 0


async def test_the_queue_survives_a_stopped_worker_abandoned_claims_and_a_lost_redis(
    lps: Lps,
) -> None:
    requests = [comparison_request() for _ in range(300)]
    await lps.accept(requests)

    stop = asyncio.Event()
    first = asyncio.create_task(lps.worker(lease_s=60).run(stop))

    async def some_answered() -> bool:
        return bool(await lps.callback_count() >= 50)

    await eventually(some_answered)
    stop.set()  # the worker stops mid-way
    await asyncio.wait_for(first, timeout=60)
    # ... leaving claims behind as a crash would, and Redis loses the queue.
    abandoned = [r.request_id for r in requests[-5:]]
    async with lps.sessions.begin() as session:
        for request_id in abandoned:
            await RequestRepository(session).claim(
                request_id, lease_until=datetime.now(UTC) + timedelta(seconds=60)
            )
    await lps.redis.delete(lps.queue.key)
    assert await lps.callback_count() < 300

    later = FakeClock(start=50_000.0, wall_start=time.time() + 120)  # the leases have expired

    async def all_answered() -> bool:
        return bool(await lps.callback_count() >= 300)

    await run_until(lps.worker(clock=later, lease_s=60), all_answered)
    answered = results(await lps.callbacks_written())
    assert len(answered) == 300
    assert {r.request_id for r in answered} == {r.request_id for r in requests}
    assert set(lps.provider.calls) == {r.request_id for r in requests}
    assert sum(lps.provider.calls.values()) <= 300 + 8  # at most the calls cut off mid-way
    async with lps.sessions() as session:
        counts, _ = await RequestRepository(session).queue_stats()
    assert counts == {RequestState.DONE: 300}


async def test_a_request_past_its_deadline_gets_an_error_callback_without_a_provider_call(
    lps: Lps,
) -> None:
    late = comparison_request(deadline=datetime.now(UTC) - timedelta(seconds=1))
    await lps.accept([late])
    await lps.redis.delete(lps.queue.key)  # not even in Redis: housekeeping still answers it
    await lps.worker().housekeeping()

    [result] = results(await lps.callbacks_written())
    assert result.request_id == late.request_id
    assert result.winner is None
    assert result.error is not None
    assert result.error.code is ErrorCode.DEADLINE_EXCEEDED
    assert lps.provider.calls == Counter()
    async with lps.sessions() as session:
        record = await RequestRepository(session).get(late.request_id)
    assert record is not None
    assert record.state is RequestState.FAILED


async def test_a_deadline_that_passes_while_queued_is_answered_by_the_fake_clock(
    lps: Lps,
) -> None:
    request = comparison_request(deadline=datetime.now(UTC) + timedelta(minutes=5))
    await lps.accept([request])
    clock = FakeClock(start=10_000.0, wall_start=time.time() + 600)  # ten minutes later
    assert await lps.worker(clock=clock).process(request.request_id)
    [result] = results(await lps.callbacks_written())
    assert result.error is not None
    assert result.error.code is ErrorCode.DEADLINE_EXCEEDED
    assert lps.provider.calls == Counter()


async def test_a_crash_after_the_answer_publishes_it_without_calling_the_provider_again(
    lps: Lps,
) -> None:
    request = comparison_request()
    await lps.accept([request])
    worker = lps.worker(lease_s=60)
    lease_until = datetime.now(UTC) + timedelta(seconds=60)
    async with lps.sessions.begin() as session:
        record = await RequestRepository(session).claim(request.request_id, lease_until=lease_until)
    assert record is not None
    answer = LLMComparisonResult(
        request_id=request.request_id,
        batch_id=request.batch_id,
        essay_a_id=request.essay_a_id,
        essay_b_id=request.essay_b_id,
        winner="essay_b",
        justification="Persisted before the crash.",
        confidence=4,
        provider="offline",
        model="offline-judge-v1",
        input_tokens=120,
        output_tokens=20,
    )
    async with lps.sessions.begin() as session:
        # A row as an earlier version left it when it died between storing the answer and
        # finishing (today both are one statement): answered, still in flight.
        stored = await session.execute(
            update(comparison_requests)
            .where(
                comparison_requests.c.request_id == request.request_id,
                comparison_requests.c.state == RequestState.IN_FLIGHT,
            )
            .values(response=answer.model_dump(mode="json"))
        )
        assert stored.rowcount == 1
    # The process dies here: the answer is stored, no callback was written.
    assert await lps.callback_count() == 0
    assert not await worker.process(request.request_id)  # still leased: nobody takes it

    restarted = lps.worker(
        clock=FakeClock(start=10_000.0, wall_start=time.time() + 120), lease_s=60
    )
    await restarted.housekeeping()  # lease expired → requeued (and re-added to Redis)
    popped = await lps.queue.pop(1.0)
    assert popped == request.request_id
    assert await restarted.process(popped)
    [result] = results(await lps.callbacks_written())
    assert result == answer
    assert lps.provider.calls == Counter()
    assert not await restarted.process(request.request_id)  # answered is answered
    assert await lps.callback_count() == 1


async def test_the_queue_serves_higher_priority_first_then_oldest(lps: Lps) -> None:
    low = comparison_request(priority=9)
    old = comparison_request(priority=1)
    new = comparison_request(priority=1)
    urgent = comparison_request(priority=0)
    for request in (low, old, new, urgent):
        await lps.accept([request])
    assert [await lps.queue.pop(1.0) for _ in range(4)] == [
        urgent.request_id,
        old.request_id,
        new.request_id,
        low.request_id,
    ]


async def test_a_provider_that_is_not_configured_is_answered_with_an_error(lps: Lps) -> None:
    request = comparison_request().model_copy(
        update={"model_preference": ModelPreference(provider="anthropic")}
    )
    await lps.accept([request])
    assert await lps.worker().process(request.request_id)  # only the offline judge is wired
    [result] = results(await lps.callbacks_written())
    assert result.error is not None
    assert result.error.code is ErrorCode.LLM_PROVIDER_ERROR
    assert (result.provider, result.model) == ("anthropic", "claude-haiku-4-5")
    assert lps.provider.calls == Counter()
