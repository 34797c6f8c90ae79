"""Every consumed event delivered three times → the same state and the same events as once.

The events go through the real ConsumerLoop message path (decode, Redis guard, inbox row,
handler, commit, confirmation) in a fixed order, so "once" and "three times" are compared
exactly: same slots, same surplus, same outbox payloads. Without the guard (Redis down) the
database inbox alone must give the same result.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from essay_lifecycle.models import batch_phases, phase_essays
from essay_lifecycle.service import consumed_handlers
from sqlalchemy import select

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events import REGISTRY
from common_core.events.base import EssayTextRef
from common_core.events.envelope import EventEnvelope
from common_core.events.pipeline import BatchSpellcheckInitiateCommand
from common_core.events.registry import encode
from common_core.events.spellcheck import SpellcheckResult
from huleedu_service_libs.idempotency import IdempotencyGuard
from huleedu_service_libs.kafka.consumer import ConsumerLoop, Outcome
from huleedu_service_libs.kafka.headers import kafka_headers
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.outbox.table import outbox_table

pytestmark = pytest.mark.integration


def scenario(els) -> list[EventEnvelope[Any]]:
    """Early content, registration, content, failures, surplus, and a never-registered batch."""
    registration = els.registered(slots=4)
    batch_id = registration.data.batch_id
    return [
        els.content(batch_id, name="early-1.txt"),
        els.content(batch_id, name="early-2.txt"),
        els.content(uuid.uuid4(), name="orphan.txt"),
        registration,
        els.content(batch_id, name="on-time.txt", text="Identical text, two students."),
        els.failure(batch_id, name="bad.pdf", reason=ErrorCode.ENCRYPTED_FILE),
        els.content(batch_id, name="surplus.txt", text="Identical text, two students."),
        els.failure(batch_id, name="late.docx"),
    ]


def record(els, envelope: EventEnvelope[Any], offset: int) -> ConsumerRecord[bytes, bytes]:
    value = encode(envelope)
    key = str(envelope.data.batch_id).encode()
    spec = REGISTRY.spec(envelope.event_type)
    return ConsumerRecord(
        topic=f"{els.settings.kafka_topic_prefix}{spec.topic}",
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


async def deliver(els, redis_client, deliveries, *, guard: bool) -> Counter[Outcome]:
    loop = ConsumerLoop(
        els.settings,
        consumer_name=f"essay_lifecycle-{uuid.uuid4().hex[:8]}",
        registry=REGISTRY,
        handlers=consumed_handlers(els.settings),
        sessions=els.sessions,
        outbox=els.outbox,
        guard=(
            IdempotencyGuard(redis_client, key_prefix=els.settings.redis_key_prefix)
            if guard
            else None
        ),
        publisher=KafkaPublisher(els.settings, REGISTRY),  # only for dead letters: none expected
    )
    outcomes: Counter[Outcome] = Counter()
    for offset, envelope in enumerate(deliveries):
        outcomes[await loop.process(record(els, envelope, offset))] += 1
    return outcomes


def without_timestamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timestamps(v) for k, v in value.items() if k != "timestamp"}
    if isinstance(value, list):
        return [without_timestamps(v) for v in value]
    return value


async def final_state(els, batch_ids) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for batch_id in batch_ids:
        batch = await els.batch(batch_id)
        state[str(batch_id)] = {
            "intake_completed": batch is not None and batch["intake_completed_at"] is not None,
            "slots": [
                {k: v for k, v in row.items() if k != "updated_at"}
                for row in await els.slots(batch_id)
            ],
            "excess": [
                {k: v for k, v in row.items() if k not in ("recorded_at", "arrival")}
                for row in await els.excess(batch_id)
            ],
            "pending": [row["file_upload_id"] for row in await els.pending(batch_id)],
        }
    rows = await els.rows(
        select(
            outbox_table.c.event_type, outbox_table.c.aggregate_key, outbox_table.c.payload
        ).order_by(outbox_table.c.id)
    )
    state["outbox"] = [
        {
            "event_type": row["event_type"],
            "key": row["aggregate_key"],
            "correlation_id": row["payload"]["correlation_id"],
            "data": without_timestamps(row["payload"]["data"]),
        }
        for row in rows
    ]
    return state


@pytest.mark.parametrize("guard", [True, False], ids=["guard", "inbox-only"])
@pytest.mark.parametrize("pattern", ["each-thrice", "sequence-thrice"])
async def test_three_deliveries_leave_the_same_state_and_events_as_one(
    els_factory, redis_client, guard: bool, pattern: str
) -> None:
    once = await els_factory()
    thrice = await els_factory()
    events = scenario(once)
    batch_ids = {e.data.batch_id for e in events}
    repeated = [e for e in events for _ in range(3)] if pattern == "each-thrice" else events * 3

    single = await deliver(once, redis_client, events, guard=guard)
    triple = await deliver(thrice, redis_client, repeated, guard=guard)

    assert single == {Outcome.HANDLED: len(events)}
    assert triple == {Outcome.HANDLED: len(events), Outcome.DUPLICATE: 2 * len(events)}
    expected = await final_state(once, batch_ids)
    assert await final_state(thrice, batch_ids) == expected
    # The scenario really covers every path: early, slot, failure, surplus, pending.
    assert [e["event_type"] for e in expected["outbox"]] == [
        "essay.slot.assigned",
        "essay.slot.assigned",
        "essay.slot.assigned",
        "batch.content_provisioning.completed",
        "batch.essays.ready",
        "essay.excess_content.provisioned",
    ]
    registered_batch = str(events[3].data.batch_id)
    assert len(expected[registered_batch]["excess"]) == 2
    assert len(expected[str(events[2].data.batch_id)]["pending"]) == 1


def phase_scenario(els) -> list[EventEnvelope[Any]]:
    """A ready batch of three, its spellcheck command, two corrections and one failure."""
    registration = els.registered(slots=3)
    batch_id = registration.data.batch_id
    uploads = [els.content(batch_id, text=f"Essay {i} about the sea.") for i in range(3)]
    refs = [
        EssayTextRef(essay_id=essay_id, text_id=upload.data.text_id)
        for essay_id, upload in zip(registration.data.essay_ids, uploads, strict=True)
    ]
    results = [
        SpellcheckResult(
            batch_id=batch_id,
            essay_id=ref.essay_id,
            original_text_id=ref.text_id,
            corrected_text_id=ref.text_id[::-1],
        )
        for ref in refs[:2]
    ]
    results.append(
        SpellcheckResult(
            batch_id=batch_id,
            essay_id=refs[2].essay_id,
            original_text_id=refs[2].text_id,
            error=ErrorDetail(
                code=ErrorCode.CONTENT_UNAVAILABLE, message="gone", service="spellchecker"
            ),
        )
    )
    command = BatchSpellcheckInitiateCommand(batch_id=batch_id, essays=refs, language="en")
    return [
        registration,
        *uploads,
        REGISTRY.envelope(command, source_service="batch_orchestrator"),
        *(REGISTRY.envelope(result, source_service="spellchecker") for result in results),
    ]


@pytest.mark.parametrize("guard", [True, False], ids=["guard", "inbox-only"])
async def test_phase_events_delivered_three_times_through_the_loop_act_once(
    els_factory, redis_client, guard: bool
) -> None:
    once = await els_factory()
    thrice = await els_factory()
    events = phase_scenario(once)
    batch_id = events[0].data.batch_id

    single = await deliver(once, redis_client, events, guard=guard)
    triple = await deliver(thrice, redis_client, events * 3, guard=guard)

    assert single == {Outcome.HANDLED: len(events)}
    assert triple == {Outcome.HANDLED: len(events), Outcome.DUPLICATE: 2 * len(events)}
    expected = await final_state(once, {batch_id})
    expected["phase_essays"] = await _phase_rows(once)
    assert [e["event_type"] for e in expected["outbox"]].count("pipeline.phase.outcome") == 1
    assert len(expected["phase_essays"]) == 3
    actual = await final_state(thrice, {batch_id})
    actual["phase_essays"] = await _phase_rows(thrice)
    assert actual == expected


async def _phase_rows(els) -> list[dict[str, Any]]:
    rows = await els.rows(
        select(phase_essays, batch_phases.c.outcome_emitted_at)
        .join(batch_phases, batch_phases.c.batch_id == phase_essays.c.batch_id)
        .order_by(phase_essays.c.position)
    )
    return [
        {k: v for k, v in row.items() if k not in ("updated_at", "outcome_emitted_at")}
        | {"outcome_emitted": row["outcome_emitted_at"] is not None}
        for row in rows
    ]
