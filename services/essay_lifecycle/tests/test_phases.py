"""Phases: batch commands fan out per essay, results finish essays, one outcome per phase."""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from typing import Any
from uuid import UUID

import pytest
from essay_lifecycle.models import batch_phases, phase_essays
from essay_lifecycle.phase_tracking import UnknownBatchError
from essay_lifecycle.service import DEFINITION
from sqlalchemy import select

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events import REGISTRY
from common_core.events.base import EssayTextRef, FailedEssay
from common_core.events.cj import (
    CJAssessmentCompleted,
    CJAssessmentFailed,
    CJAssessmentRequested,
)
from common_core.events.envelope import EventEnvelope
from common_core.events.pipeline import (
    BatchCJAssessmentInitiateCommand,
    BatchSpellcheckInitiateCommand,
    ELSBatchPhaseOutcome,
)
from common_core.events.spellcheck import EssaySpellcheckRequested, SpellcheckResult
from common_core.status import EssayStatus
from huleedu_service_libs.outbox.table import outbox_table
from huleedu_service_libs.testing.services import http_test_client

pytestmark = pytest.mark.integration


def text_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def ready_batch(els, size: int) -> tuple[UUID, list[EssayTextRef]]:
    """A registered batch whose every slot is ready, and its essays with their text."""
    registration = els.registered(slots=size)
    batch_id = registration.data.batch_id
    await els.handle(registration)
    for index in range(size):
        await els.handle(els.content(batch_id, text=f"Essay number {index} about the sea."))
    slots = await els.slots(batch_id)
    assert {slot["status"] for slot in slots} == {EssayStatus.READY_FOR_PROCESSING}
    return batch_id, [EssayTextRef(essay_id=s["essay_id"], text_id=s["text_id"]) for s in slots]


def spellcheck_command(batch_id: UUID, essays: list[EssayTextRef]) -> EventEnvelope[Any]:
    return REGISTRY.envelope(
        BatchSpellcheckInitiateCommand(batch_id=batch_id, essays=essays, language="en"),
        source_service="batch_orchestrator",
    )


def corrected(essay: EssayTextRef) -> str:
    return text_id(f"corrected {essay.text_id}")


def spellchecked(batch_id: UUID, essay: EssayTextRef) -> EventEnvelope[Any]:
    return REGISTRY.envelope(
        SpellcheckResult(
            batch_id=batch_id,
            essay_id=essay.essay_id,
            original_text_id=essay.text_id,
            corrected_text_id=corrected(essay),
        ),
        source_service="spellchecker",
    )


def spellcheck_failed(batch_id: UUID, essay: EssayTextRef) -> EventEnvelope[Any]:
    return REGISTRY.envelope(
        SpellcheckResult(
            batch_id=batch_id,
            essay_id=essay.essay_id,
            original_text_id=essay.text_id,
            error=ErrorDetail(
                code=ErrorCode.CONTENT_UNAVAILABLE,
                message="content_service has no such text",
                service="spellchecker",
            ),
        ),
        source_service="spellchecker",
    )


def cj_command(batch_id: UUID, essays: list[EssayTextRef]) -> EventEnvelope[Any]:
    return REGISTRY.envelope(
        BatchCJAssessmentInitiateCommand(
            batch_id=batch_id,
            essays=essays,
            course_code="ENG5",
            language="en",
            essay_instructions="Write about the sea.",
            assignment_id="assignment-7",
        ),
        source_service="batch_orchestrator",
    )


async def outcomes(els) -> list[ELSBatchPhaseOutcome]:
    return [ELSBatchPhaseOutcome.model_validate(e) for e in await els.events(ELSBatchPhaseOutcome)]


async def test_spellcheck_command_fans_out_one_request_per_essay(els) -> None:
    batch_id, refs = await ready_batch(els, 4)

    await els.handle(spellcheck_command(batch_id, refs))

    requests = await els.events(EssaySpellcheckRequested)
    assert [(r["essay_id"], r["text_id"], r["language"]) for r in requests] == [
        (str(ref.essay_id), ref.text_id, "en") for ref in refs
    ]
    assert {s["status"] for s in await els.slots(batch_id)} == {EssayStatus.SPELLCHECK_REQUESTED}
    assert await outcomes(els) == []
    phase = await els.rows(select(batch_phases).where(batch_phases.c.batch_id == batch_id))
    assert len(phase) == 1
    assert phase[0]["outcome_emitted_at"] is None


async def test_a_command_for_a_batch_els_does_not_know_fails_and_records_nothing(els) -> None:
    stranger = EssayTextRef(essay_id=uuid.uuid4(), text_id=text_id("unknown essay"))

    with pytest.raises(UnknownBatchError):
        await els.handle(spellcheck_command(uuid.uuid4(), [stranger]))

    assert await els.event_types() == []
    assert await els.rows(select(batch_phases)) == []


async def test_a_second_command_while_the_phase_runs_changes_nothing(els) -> None:
    batch_id, refs = await ready_batch(els, 3)
    await els.handle(spellcheck_command(batch_id, refs))
    before = await els.event_types()

    await els.handle(spellcheck_command(batch_id, refs))  # a new command, not a redelivery

    assert await els.event_types() == before
    assert len(await els.events(EssaySpellcheckRequested)) == 3


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_results_in_any_order_give_one_outcome_with_survivors_and_failures(
    els, seed: int
) -> None:
    batch_id, refs = await ready_batch(els, 5)
    await els.handle(spellcheck_command(batch_id, refs))
    failing = refs[1]
    results = [spellchecked(batch_id, ref) for ref in refs if ref is not failing]
    results.append(spellcheck_failed(batch_id, failing))
    stranger = EssayTextRef(essay_id=uuid.uuid4(), text_id=text_id("not in the phase"))
    extras = [spellchecked(batch_id, refs[3]), spellchecked(batch_id, stranger)]
    random.Random(seed).shuffle(results)
    # A duplicate (a second, different result for an essay) and a stranger, mid-stream.
    deliveries = results[:2] + extras + results[2:]

    for index, delivery in enumerate(deliveries):
        await els.handle(delivery)
        if index < len(deliveries) - 1:
            assert await outcomes(els) == []

    [outcome] = await outcomes(els)
    assert outcome.phase == "spellcheck"
    assert {(e.essay_id, e.text_id) for e in outcome.succeeded_essays} == {
        (ref.essay_id, corrected(ref)) for ref in refs if ref is not failing
    }
    assert [e.essay_id for e in outcome.failed_essays] == [failing.essay_id]
    reason = outcome.failed_essays[0].error
    assert (reason.code, reason.message) == (
        ErrorCode.CONTENT_UNAVAILABLE,
        "content_service has no such text",
    )
    slots = {s["essay_id"]: s for s in await els.slots(batch_id)}
    assert slots[failing.essay_id]["status"] == EssayStatus.SPELLCHECK_FAILED
    assert slots[failing.essay_id]["text_id"] == failing.text_id
    for ref in refs:
        if ref is not failing:
            assert slots[ref.essay_id]["status"] == EssayStatus.SPELLCHECKED
            assert slots[ref.essay_id]["text_id"] == corrected(ref)


async def test_every_event_delivered_three_times_leaves_the_same_state_and_events(
    els_factory,
) -> None:
    once = await els_factory()
    thrice = await els_factory()
    batch_id = uuid.uuid4()
    essay_ids = [uuid.uuid4() for _ in range(4)]
    uploads = [once.content(batch_id, text=f"Essay {i} about the sea.") for i in range(4)]
    registration = once.registered(slots=4, batch_id=batch_id)
    registration = registration.model_copy(
        update={"data": registration.data.model_copy(update={"essay_ids": essay_ids})}
    )
    refs = [
        EssayTextRef(essay_id=essay_id, text_id=upload.data.text_id)
        for essay_id, upload in zip(essay_ids, uploads, strict=True)
    ]
    survivors = [EssayTextRef(essay_id=r.essay_id, text_id=corrected(r)) for r in refs[:3]]
    events = [
        registration,
        *uploads,
        spellcheck_command(batch_id, refs),
        *(spellchecked(batch_id, ref) for ref in refs[:3]),
        spellcheck_failed(batch_id, refs[3]),
        cj_command(batch_id, survivors),
        REGISTRY.envelope(
            CJAssessmentCompleted(
                batch_id=batch_id,
                assessed_essay_ids=[r.essay_id for r in survivors[:2]],
                failed_essays=[
                    FailedEssay(
                        essay_id=survivors[2].essay_id,
                        error=ErrorDetail(
                            code=ErrorCode.INSUFFICIENT_COMPARISONS,
                            message="too few valid comparisons",
                            service="cj_assessment",
                        ),
                    )
                ],
                comparisons_completed=3,
            ),
            source_service="cj_assessment",
        ),
    ]

    for event in events:
        await once.handle(event)
    for event in events:
        for _ in range(3):
            await thrice.handle(event)

    expected = await phase_state(once, batch_id)
    assert await phase_state(thrice, batch_id) == expected
    assert [row["event_type"] for row in expected["outbox"]].count("pipeline.phase.outcome") == 2
    assert [o.status for o in await outcomes(thrice)] == [
        "completed_with_failures",
        "completed_with_failures",
    ]


async def phase_state(els, batch_id: UUID) -> dict[str, Any]:
    def stable(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if not k.endswith("_at")}

    outbox = await els.rows(
        select(outbox_table.c.event_type, outbox_table.c.payload).order_by(outbox_table.c.id)
    )
    return {
        "slots": [stable(row) for row in await els.slots(batch_id)],
        "phases": [
            stable(row)
            for row in await els.rows(
                select(batch_phases)
                .where(batch_phases.c.batch_id == batch_id)
                .order_by(batch_phases.c.phase)
            )
        ],
        "phase_essays": [
            stable(row)
            for row in await els.rows(
                select(phase_essays)
                .where(phase_essays.c.batch_id == batch_id)
                .order_by(phase_essays.c.phase, phase_essays.c.position)
            )
        ],
        "outbox": [
            {
                "event_type": row["event_type"],
                "correlation_id": row["payload"]["correlation_id"],
                "data": row["payload"]["data"],
            }
            for row in outbox
        ],
    }


async def test_concurrent_results_of_one_phase_emit_exactly_one_outcome(els) -> None:
    """Fails without the batch row lock: racing last results each see the others unfinished."""
    batches = [await ready_batch(els, 12) for _ in range(4)]
    for batch_id, refs in batches:
        await els.handle(spellcheck_command(batch_id, refs))
    results = [
        spellcheck_failed(batch_id, ref) if index % 5 == 0 else spellchecked(batch_id, ref)
        for batch_id, refs in batches
        for index, ref in enumerate(refs)
    ]

    await asyncio.gather(*(els.handle(result) for result in results))

    found = await outcomes(els)
    assert sorted(str(o.batch_id) for o in found) == sorted(str(b) for b, _ in batches)
    for outcome in found:
        assert len(outcome.succeeded_essays) == 9
        assert len(outcome.failed_essays) == 3


async def test_essays_that_cannot_enter_a_phase_fail_at_once_with_the_reason(els) -> None:
    batch_id, refs = await ready_batch(els, 3)
    await els.handle(spellcheck_command(batch_id, refs))
    await els.handle(spellchecked(batch_id, refs[0]))
    await els.handle(spellchecked(batch_id, refs[1]))
    await els.handle(spellcheck_failed(batch_id, refs[2]))
    stranger = EssayTextRef(essay_id=uuid.uuid4(), text_id=text_id("unknown essay"))

    # The spellcheck-failed essay and an unknown one cannot enter CJ; nothing can be asked.
    await els.handle(cj_command(batch_id, [refs[2], stranger]))

    assert await els.events(CJAssessmentRequested) == []
    cj_outcome = (await outcomes(els))[-1]
    assert cj_outcome.phase == "cj_assessment"
    assert cj_outcome.succeeded_essays == []
    assert [(f.essay_id, f.error.code) for f in cj_outcome.failed_essays] == [
        (refs[2].essay_id, ErrorCode.CONFLICT),
        (stranger.essay_id, ErrorCode.NOT_FOUND),
    ]


async def test_cj_command_sends_one_batch_request_and_completion_ends_the_phase(els) -> None:
    batch_id, refs = await ready_batch(els, 4)  # spellcheck skipped: CJ straight from ready

    await els.handle(cj_command(batch_id, refs))

    [request] = await els.events(CJAssessmentRequested)
    assert CJAssessmentRequested.model_validate(request) == CJAssessmentRequested(
        batch_id=batch_id,
        essays=refs,
        course_code="ENG5",
        language="en",
        essay_instructions="Write about the sea.",
        assignment_id="assignment-7",
    )
    assert {s["status"] for s in await els.slots(batch_id)} == {EssayStatus.CJ_REQUESTED}

    lost = ErrorDetail(
        code=ErrorCode.INSUFFICIENT_COMPARISONS, message="too few", service="cj_assessment"
    )
    completed = REGISTRY.envelope(
        CJAssessmentCompleted(
            batch_id=batch_id,
            assessed_essay_ids=[refs[0].essay_id, refs[1].essay_id, uuid.uuid4()],
            failed_essays=[FailedEssay(essay_id=refs[2].essay_id, error=lost)],
            comparisons_completed=6,
        ),
        source_service="cj_assessment",
    )
    await els.handle(completed)
    await els.handle(REGISTRY.envelope(completed.data, source_service="cj_assessment"))

    [outcome] = await outcomes(els)
    assert outcome.phase == "cj_assessment"
    assert outcome.succeeded_essays == refs[:2]  # CJ leaves the text as it was
    assert [(f.essay_id, f.error.code) for f in outcome.failed_essays] == [
        (refs[2].essay_id, ErrorCode.INSUFFICIENT_COMPARISONS),
        (refs[3].essay_id, ErrorCode.PROCESSING_FAILED),  # not reported by CJ
    ]
    statuses = [s["status"] for s in await els.slots(batch_id)]
    assert statuses == [EssayStatus.CJ_COMPLETED] * 2 + [EssayStatus.CJ_FAILED] * 2


async def test_cj_failure_fails_every_essay_with_its_reason(els) -> None:
    batch_id, refs = await ready_batch(els, 3)
    await els.handle(cj_command(batch_id, refs))
    error = ErrorDetail(code=ErrorCode.LLM_PROVIDER_ERROR, message="down", service="cj_assessment")

    for _ in range(2):
        await els.handle(
            REGISTRY.envelope(
                CJAssessmentFailed(batch_id=batch_id, error=error), source_service="cj_assessment"
            )
        )

    [outcome] = await outcomes(els)
    assert outcome.status == "failed"
    assert [(f.essay_id, f.error) for f in outcome.failed_essays] == [
        (ref.essay_id, error) for ref in refs
    ]


async def test_batch_essays_read_shows_each_essays_phases(els) -> None:
    batch_id, refs = await ready_batch(els, 2)
    await els.handle(spellcheck_command(batch_id, refs))
    await els.handle(spellchecked(batch_id, refs[0]))
    await els.handle(spellcheck_failed(batch_id, refs[1]))
    await els.handle(
        cj_command(batch_id, [EssayTextRef(essay_id=refs[0].essay_id, text_id=corrected(refs[0]))])
    )

    async with http_test_client(DEFINITION, els.settings) as client:
        body = await (await client.get(f"/v1/batches/{batch_id}/essays")).get_json()

    first, second = body["essays"]
    assert first["status"] == "cj_requested"
    assert first["text_id"] == corrected(refs[0])
    assert first["phases"] == [
        {
            "phase": "spellcheck",
            "status": "spellchecked",
            "text_id": corrected(refs[0]),
            "failure": None,
            "details": {"error_counts": {}, "total_corrections": 0},
        },
        {
            "phase": "cj_assessment",
            "status": "cj_requested",
            "text_id": None,
            "failure": None,
            "details": None,
        },
    ]
    assert second["status"] == "spellcheck_failed"
    assert second["failure"] is None  # intake failure only; the phase failure is per phase
    assert second["phases"] == [
        {
            "phase": "spellcheck",
            "status": "spellcheck_failed",
            "text_id": None,
            "failure": {
                "code": "content_unavailable",
                "message": "content_service has no such text",
            },
            "details": None,
        }
    ]
