"""The two handlers against a real database: redelivery, odd results, and exactly one ending."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from uuid import UUID

import pytest
import redis.asyncio as aioredis
from aiokafka import ConsumerRecord
from cj_assessment.assessment import EndReason, end_batch
from cj_assessment.models import anchors, assignments, cj_batches
from cj_assessment.monitor import end_overdue_batches
from cj_harness import Cj, request_event, result_event, text_id  # type: ignore[import-not-found]
from prometheus_client import REGISTRY as METRICS
from sqlalchemy import insert, update

from common_core.errors import ErrorCode
from common_core.events import REGISTRY
from common_core.events.cj import CJAssessmentCompleted, CJAssessmentFailed
from common_core.events.envelope import EventEnvelope
from common_core.events.llm import ComparisonWinner, LLMComparisonRequest
from common_core.events.registry import encode
from common_core.events.results import AssessmentResult
from huleedu_service_libs.idempotency import IdempotencyGuard
from huleedu_service_libs.kafka.consumer import ConsumerLoop
from huleedu_service_libs.kafka.headers import kafka_headers
from huleedu_service_libs.kafka.producer import KafkaPublisher

pytestmark = pytest.mark.integration


def ignored(reason: str) -> float:
    value = METRICS.get_sample_value("huleedu_cj_results_ignored_total", {"reason": reason})
    return value or 0.0


def by_index(request: Any) -> dict[UUID, float]:
    """Hidden quality: the first essay of the request is the best, the last the worst."""
    return {essay.essay_id: -float(i) for i, essay in enumerate(request.data.essays)}


async def test_a_redelivered_request_creates_one_batch_and_one_first_wave(cj: Cj) -> None:
    request = request_event(essays=6)
    await cj.handle(request)
    once = await cj.events()
    await cj.handle(request)
    assert await cj.events() == once
    assert len(await cj.events(LLMComparisonRequest)) == 3  # one wave: every essay at most once
    items = await cj.items(request.data.batch_id)
    assert [row["essay_id"] for row in items] == [e.essay_id for e in request.data.essays]
    batch = await cj.batch(request.data.batch_id)
    assert batch["wave"] == 1
    assert batch["status"].value == "collecting"


async def test_a_batch_completes_once_with_the_true_order(cj: Cj) -> None:
    request = request_event(essays=6)
    quality = by_index(request)
    await cj.handle(request)
    await cj.judge_until_done(request.data.batch_id, quality.__getitem__)

    completed = await cj.events(CJAssessmentCompleted)
    results = await cj.events(AssessmentResult)
    assert len(completed) == 1
    assert len(results) == 1
    assert sorted(completed[0]["assessed_essay_ids"]) == sorted(str(k) for k in quality)
    ranked = sorted(results[0]["essays"], key=lambda e: e["rank"])
    assert [UUID(e["essay_id"]) for e in ranked] == [e.essay_id for e in request.data.essays]
    assert all(e["grade_projection"] is None and not e["is_anchor"] for e in ranked)
    assert results[0]["comparisons_completed"] == completed[0]["comparisons_completed"] > 0
    batch = await cj.batch(request.data.batch_id)
    assert batch["status"].value == "completed"
    assert batch["finalised_at"] is not None
    assert 0.0 <= batch["diagnostics"]["reliability"] <= 1.0
    assert results[0]["reliability"] == min(1.0, max(0.0, batch["diagnostics"]["reliability"]))


async def test_a_small_batch_ends_as_soon_as_its_pairs_are_judged(cj: Cj) -> None:
    request = request_event(essays=4)
    quality = by_index(request)
    await cj.handle(request)
    await cj.judge_until_done(request.data.batch_id, quality.__getitem__)
    comparisons = await cj.comparisons(request.data.batch_id)
    pairs = {frozenset((row["a_index"], row["b_index"])) for row in comparisons}
    assert len(comparisons) == len(pairs) == 6
    assert (await cj.batch(request.data.batch_id))["end_reason"] == "all_pairs_judged"


async def test_duplicate_unknown_and_late_results_change_nothing(cj: Cj) -> None:
    request = request_event(essays=2)
    await cj.handle(request)
    [asked] = await cj.open_requests(request.data.batch_id)

    before = ignored("unknown")
    await cj.handle(result_event(asked, request_id=uuid.uuid4()))
    assert ignored("unknown") == before + 1

    # Two essays: the one pair ends the batch, so the duplicate arrives after the end.
    answer = result_event(asked)
    await cj.handle(answer)
    after_end = await cj.events()
    assert len(await cj.events(CJAssessmentCompleted)) == 1
    late = ignored("late")
    await cj.handle(answer)
    await cj.handle(result_event(asked, winner=ComparisonWinner.ESSAY_B))
    assert ignored("late") == late + 2
    assert await cj.events() == after_end


async def test_a_duplicate_result_within_a_wave_is_a_no_op(cj: Cj) -> None:
    request = request_event(essays=6)
    await cj.handle(request)
    first, *_ = await cj.open_requests(request.data.batch_id)
    await cj.handle(result_event(first))
    state = await cj.comparisons(request.data.batch_id)
    outbox = await cj.outbox_count()
    duplicates = ignored("duplicate")
    await cj.handle(result_event(first, winner=ComparisonWinner.ESSAY_B))
    assert ignored("duplicate") == duplicates + 1
    assert await cj.comparisons(request.data.batch_id) == state
    assert await cj.outbox_count() == outbox


async def test_error_results_are_retried_then_failed_and_excluded(cj: Cj) -> None:
    request = request_event(essays=2)  # max_error_retries=1 in these tests
    batch_id = request.data.batch_id
    await cj.handle(request)
    [first] = await cj.open_requests(batch_id)
    await cj.handle(result_event(first, error=ErrorCode.LLM_PROVIDER_ERROR))
    [retry] = await cj.open_requests(batch_id)
    assert retry["request_id"] != first["request_id"]
    assert (retry["essay_a_id"], retry["essay_b_id"]) == (first["essay_a_id"], first["essay_b_id"])
    # Redelivered error: no third request.
    await cj.handle(result_event(first, error=ErrorCode.LLM_PROVIDER_ERROR))
    assert len(await cj.events(LLMComparisonRequest)) == 2

    await cj.handle(result_event(retry, error=ErrorCode.LLM_PROVIDER_ERROR))
    states = [row["state"].value for row in await cj.comparisons(batch_id)]
    assert sorted(states) == ["failed", "retried"]
    # The failure reached the two-essay batch's target of one comparison: it ends, and with
    # no valid judgement it fails with the reason.
    [failed] = await cj.events(CJAssessmentFailed)
    assert failed["error"]["code"] == "insufficient_comparisons"
    assert await cj.events(CJAssessmentCompleted) == []


async def test_ending_a_terminal_batch_is_a_no_op_for_every_terminal_state(cj: Cj) -> None:
    completed = request_event(essays=3)
    quality = by_index(completed)
    await cj.handle(completed)
    await cj.judge_until_done(completed.data.batch_id, quality.__getitem__)

    failed = request_event(essays=3)
    await cj.handle(failed)
    async with cj.uow() as uow:
        assert await end_batch(uow, failed.data.batch_id, EndReason.DEADLINE_REACHED, cj.config)
        await uow.commit()

    outbox = await cj.events()
    for batch_id in (completed.data.batch_id, failed.data.batch_id):
        for reason in EndReason:
            async with cj.uow() as uow:
                assert not await end_batch(uow, batch_id, reason, cj.config)
                await uow.commit()
    assert await cj.events() == outbox
    assert len(await cj.events(CJAssessmentCompleted)) == 1
    assert len(await cj.events(CJAssessmentFailed)) == 1
    assert (await cj.batch(failed.data.batch_id))["status"].value == "failed"


async def test_a_single_essay_completes_at_rank_one(cj: Cj) -> None:
    request = request_event(essays=1)
    await cj.handle(request)
    await cj.handle(request)
    [result] = await cj.events(AssessmentResult)
    assert [(e["rank"], e["bt_score"], e["comparison_count"]) for e in result["essays"]] == [
        (1, 0.0, 0)
    ]
    assert len(await cj.events(CJAssessmentCompleted)) == 1
    assert await cj.events(LLMComparisonRequest) == []


async def test_anchors_join_the_pool_and_project_grades(cj: Cj) -> None:
    assignment_id = f"essay-{uuid.uuid4().hex[:6]}"
    anchor_ids = {grade: uuid.uuid4() for grade in ("F", "C", "A")}
    async with cj.engine.begin() as conn:
        await conn.execute(
            insert(assignments).values(
                assignment_id=assignment_id, owner_user_id="teacher-1", grade_scale="swedish_f_a"
            )
        )
        for n, (grade, anchor_id) in enumerate(anchor_ids.items()):
            await conn.execute(
                insert(anchors).values(
                    anchor_id=anchor_id,
                    assignment_id=assignment_id,
                    grade=grade,
                    label=f"Anchor {grade}",
                    text_id=text_id(100 + n),
                )
            )
    request = request_event(essays=5, assignment_id=assignment_id)
    anchor_quality = {anchor_ids["F"]: -10.0, anchor_ids["C"]: -2.0, anchor_ids["A"]: 10.0}
    quality = by_index(request) | anchor_quality
    await cj.handle(request)
    await cj.judge_until_done(request.data.batch_id, quality.__getitem__)

    [completed] = await cj.events(CJAssessmentCompleted)
    assert sorted(completed["assessed_essay_ids"]) == sorted(
        str(e.essay_id) for e in request.data.essays
    )
    [result] = await cj.events(AssessmentResult)
    essays = {UUID(e["essay_id"]): e for e in result["essays"]}
    assert len(essays) == 8
    assert {k for k, e in essays.items() if e["is_anchor"]} == set(anchor_ids.values())
    assert all(e["grade_projection"] is not None for e in essays.values())
    assert essays[anchor_ids["A"]]["rank"] == 1
    assert essays[anchor_ids["A"]]["grade_projection"]["grade"] == "A"
    assert essays[anchor_ids["F"]]["grade_projection"]["grade"] == "F"


async def test_the_monitor_ends_overdue_batches_with_what_they_have(cj: Cj) -> None:
    judged = request_event(essays=6)
    quality = by_index(judged)
    await cj.handle(judged)
    # Answer only the first two waves, then let the deadline pass.
    for _ in range(2):
        for asked in await cj.open_requests(judged.data.batch_id):
            a_wins = quality[UUID(asked["essay_a_id"])] > quality[UUID(asked["essay_b_id"])]
            winner = ComparisonWinner.ESSAY_A if a_wins else ComparisonWinner.ESSAY_B
            await cj.handle(result_event(asked, winner=winner))
    unjudged = request_event(essays=6)
    await cj.handle(unjudged)
    async with cj.engine.begin() as conn:
        await conn.execute(update(cj_batches).values(deadline_at=cj_batches.c.created_at))

    assert await end_overdue_batches(cj.uow, cj.config) == 2
    assert await end_overdue_batches(cj.uow, cj.config) == 0
    graph = await cj.batch(judged.data.batch_id)
    assert graph["end_reason"] == "deadline_reached"
    if graph["status"].value == "completed":
        assert len(await cj.events(CJAssessmentCompleted)) == 1
    [failed] = [
        e
        for e in await cj.events(CJAssessmentFailed)
        if e["batch_id"] == str(unjudged.data.batch_id)
    ]
    assert failed["error"]["code"] == "insufficient_comparisons"
    assert "deadline" in failed["error"]["message"]
    # Open requests were abandoned: their late answers are ignored.
    late = ignored("late")
    for asked in await cj.events(LLMComparisonRequest):
        if asked["batch_id"] == str(unjudged.data.batch_id):
            await cj.handle(result_event(asked))
    assert ignored("late") > late


def record(cj: Cj, envelope: EventEnvelope[Any], offset: int) -> ConsumerRecord[bytes, bytes]:
    value = encode(envelope)
    key = str(envelope.data.batch_id).encode()
    return ConsumerRecord(
        topic=f"{cj.settings.kafka_topic_prefix}{REGISTRY.spec(envelope.event_type).topic}",
        partition=0,
        offset=offset,
        timestamp=int(time.time() * 1000),
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=[(k, v.encode()) for k, v in kafka_headers(envelope).items()],
    )


async def test_the_consumer_loop_applies_each_event_once_when_delivered_twice(
    cj: Cj, redis_client: aioredis.Redis
) -> None:
    loop = ConsumerLoop(
        cj.settings,
        consumer_name=f"cj_assessment-{uuid.uuid4().hex[:8]}",
        registry=REGISTRY,
        handlers=cj.handlers,
        sessions=cj.sessions,
        outbox=cj.outbox,
        guard=IdempotencyGuard(redis_client, key_prefix=cj.settings.redis_key_prefix),
        publisher=KafkaPublisher(cj.settings, REGISTRY),  # only for dead letters: none expected
    )
    request = request_event(essays=2)
    await loop.process(record(cj, request, 0))
    await loop.process(record(cj, request, 1))
    [asked] = await cj.open_requests(request.data.batch_id)
    answer = result_event(asked)
    await loop.process(record(cj, answer, 2))
    await loop.process(record(cj, answer, 3))
    assert len(await cj.events(LLMComparisonRequest)) == 1
    assert len(await cj.events(CJAssessmentCompleted)) == 1
    assert len(await cj.events(AssessmentResult)) == 1
    assert await cj.outbox_count() == 3


async def test_results_closing_a_wave_together_send_one_next_wave(cj: Cj) -> None:
    request = request_event(essays=8)
    await cj.handle(request)
    wave = await cj.open_requests(request.data.batch_id)
    assert len(wave) == 4
    await asyncio.gather(*(cj.handle(result_event(asked)) for asked in wave))
    batch = await cj.batch(request.data.batch_id)
    assert batch["wave"] == 2
    assert len(await cj.events(LLMComparisonRequest)) == 8
    assert len(await cj.open_requests(request.data.batch_id)) == 4
