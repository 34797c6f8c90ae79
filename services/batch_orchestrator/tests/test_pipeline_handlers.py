"""BOS's side of a pipeline on a real database, with ELS's phase outcomes simulated."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from batch_orchestrator.domain.pipeline_run import PHASE_TIMEOUT_REASON
from batch_orchestrator.errors import UnknownBatchError
from batch_orchestrator.handlers import event_handlers
from batch_orchestrator.handlers.pipeline_request import NO_USABLE_ESSAYS
from batch_orchestrator.models import batch_essays, pipeline_phases, pipeline_runs
from batch_orchestrator.monitor import fail_overdue_phases, phase_deadline_monitor
from batch_orchestrator.service import DEFINITION
from prometheus_client import REGISTRY as REGISTRY_METRICS
from quart.testing import QuartClient
from sqlalchemy import select, update

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events import REGISTRY
from common_core.events.base import EssayTextRef, FailedEssay
from common_core.events.batch import BatchEssaysReady
from common_core.events.envelope import EventEnvelope
from common_core.events.pipeline import (
    BatchCJAssessmentInitiateCommand,
    BatchPipelineCompleted,
    BatchSpellcheckInitiateCommand,
    ClientBatchPipelineRequest,
    ELSBatchPhaseOutcome,
)
from common_core.status import BatchStatus, PhaseName, PhaseStatus

pytestmark = pytest.mark.integration

ORIGINAL = "a" * 64
CORRECTED = "b" * 64
SPELLCHECK_TYPE = REGISTRY.spec_for_model(BatchSpellcheckInitiateCommand).event_type
CJ_TYPE = REGISTRY.spec_for_model(BatchCJAssessmentInitiateCommand).event_type
COMPLETED_TYPE = REGISTRY.spec_for_model(BatchPipelineCompleted).event_type


async def ready_batch(bos: Any, count: int = 3, **fields: Any) -> tuple[UUID, list[UUID]]:
    """A registered batch whose intake ended with every essay usable."""
    batch = await bos.register(expected_essay_count=count, **fields)
    essays = await bos.essay_ids(batch.batch_id)
    await bos.deliver(
        bos.envelope(
            BatchEssaysReady(
                batch_id=batch.batch_id,
                ready_essays=[EssayTextRef(essay_id=e, text_id=ORIGINAL) for e in essays],
            )
        )
    )
    return batch.batch_id, essays


def request(batch_id: UUID, pipeline: PhaseName) -> EventEnvelope[Any]:
    return REGISTRY.envelope(
        ClientBatchPipelineRequest(batch_id=batch_id, requested_pipeline=pipeline, user_id="t-1"),
        source_service="api_gateway",
    )


def outcome(
    bos: Any,
    batch_id: UUID,
    phase: PhaseName,
    succeeded: Sequence[UUID],
    failed: Sequence[UUID] = (),
) -> EventEnvelope[Any]:
    envelope: EventEnvelope[Any] = bos.envelope(
        ELSBatchPhaseOutcome(
            batch_id=batch_id,
            phase=phase,
            succeeded_essays=[EssayTextRef(essay_id=e, text_id=CORRECTED) for e in succeeded],
            failed_essays=[
                FailedEssay(
                    essay_id=e,
                    error=ErrorDetail(
                        code=ErrorCode.CONTENT_UNAVAILABLE, message="gone", service="spellchecker"
                    ),
                )
                for e in failed
            ],
        )
    )
    return envelope


async def commands(bos: Any) -> list[tuple[str, dict[str, Any]]]:
    """The events BOS recorded, in order: (event type, payload data)."""
    return [(row["event_type"], row["payload"]["data"]) for row in await bos.outbox_rows()]


async def phase_rows(bos: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await bos.snapshot())["pipeline_phases"]
    return rows


async def test_a_spellcheck_run_dispatches_the_ready_essays_and_completes(bos: Any) -> None:
    batch_id, essays = await ready_batch(bos)
    start = request(batch_id, PhaseName.SPELLCHECK)
    await bos.deliver(start)
    once = await bos.snapshot()
    await bos.deliver(start, times=3)
    assert await bos.snapshot() == once

    assert (await bos.batch(batch_id)).status is BatchStatus.PROCESSING
    [(event_type, command)] = await commands(bos)
    assert event_type == SPELLCHECK_TYPE
    assert command["language"] == "en"
    assert command["essays"] == [{"essay_id": str(e), "text_id": ORIGINAL} for e in essays]
    [phase] = once["pipeline_phases"]
    assert phase["status"] is PhaseStatus.DISPATCHED
    assert phase["deadline_at"] > phase["dispatched_at"]
    [run] = once["pipeline_runs"]
    assert run["run_id"] == start.event_id
    assert run["correlation_id"] == start.correlation_id

    done = outcome(bos, batch_id, PhaseName.SPELLCHECK, essays)
    await bos.deliver(done)
    finished = await bos.snapshot()
    await bos.deliver(done, times=3)
    assert await bos.snapshot() == finished

    assert (await bos.batch(batch_id)).status is BatchStatus.COMPLETED_SUCCESSFULLY
    assert [slot["text_id"] for slot in finished["batch_essays"]] == [CORRECTED] * 3
    rows = await bos.outbox_rows()
    assert [row["event_type"] for row in rows] == [SPELLCHECK_TYPE, COMPLETED_TYPE]
    assert {row["headers"].get("correlation_id") for row in rows} == {str(start.correlation_id)}
    completed = rows[1]["payload"]["data"]
    assert completed["final_status"] == "completed_successfully"
    assert completed["phases"] == [
        {"phase": "spellcheck", "status": "completed", "succeeded_count": 3, "failed_count": 0}
    ]
    assert finished["pipeline_runs"][0]["status"] is BatchStatus.COMPLETED_SUCCESSFULLY


async def test_failures_complete_with_failures_and_only_survivors_go_on(bos: Any) -> None:
    batch_id, essays = await ready_batch(
        bos, count=3, assignment_id="assignment-7", course_code="ENG6"
    )
    await bos.deliver(request(batch_id, PhaseName.CJ_ASSESSMENT))
    [(event_type, _)] = await commands(bos)
    assert event_type == SPELLCHECK_TYPE

    await bos.deliver(
        outcome(bos, batch_id, PhaseName.SPELLCHECK, essays[:2], failed=essays[2:]), times=3
    )
    sent = await commands(bos)
    assert [event_type for event_type, _ in sent] == [SPELLCHECK_TYPE, CJ_TYPE]
    cj = sent[1][1]
    assert cj["essays"] == [{"essay_id": str(e), "text_id": CORRECTED} for e in essays[:2]]
    assert (cj["course_code"], cj["language"], cj["assignment_id"]) == (
        "ENG6",
        "en",
        "assignment-7",
    )
    assert cj["essay_instructions"] == "Describe a place you love."
    slots = (await bos.snapshot())["batch_essays"]
    assert slots[2]["failed_phase"] is PhaseName.SPELLCHECK
    assert slots[2]["failure"]["code"] == "content_unavailable"

    await bos.deliver(outcome(bos, batch_id, PhaseName.CJ_ASSESSMENT, essays[:2]), times=3)
    assert (await bos.batch(batch_id)).status is BatchStatus.COMPLETED_WITH_FAILURES
    sent = await commands(bos)
    assert [event_type for event_type, _ in sent] == [SPELLCHECK_TYPE, CJ_TYPE, COMPLETED_TYPE]
    assert sent[2][1]["final_status"] == "completed_with_failures"
    assert [
        (p["phase"], p["status"], p["succeeded_count"], p["failed_count"])
        for p in sent[2][1]["phases"]
    ] == [
        ("spellcheck", "completed_with_failures", 2, 1),
        ("cj_assessment", "completed", 2, 0),
    ]


async def test_a_phase_where_every_essay_failed_fails_the_run_and_stops(bos: Any) -> None:
    batch_id, essays = await ready_batch(bos, count=2)
    await bos.deliver(request(batch_id, PhaseName.CJ_ASSESSMENT))
    await bos.deliver(outcome(bos, batch_id, PhaseName.SPELLCHECK, [], failed=essays), times=2)
    batch = await bos.batch(batch_id)
    assert batch.status is BatchStatus.FAILED
    assert batch.failure_reason == "every essay failed spellcheck (content_unavailable)"
    sent = await commands(bos)
    assert [event_type for event_type, _ in sent] == [SPELLCHECK_TYPE, COMPLETED_TYPE]
    assert [(p["phase"], p["status"]) for p in sent[1][1]["phases"]] == [
        ("spellcheck", "failed"),
        ("cj_assessment", "pending"),
    ]


async def test_a_completed_spellcheck_is_skipped_by_the_next_request(bos: Any) -> None:
    batch_id, essays = await ready_batch(bos, count=2)
    await bos.deliver(request(batch_id, PhaseName.SPELLCHECK))
    await bos.deliver(outcome(bos, batch_id, PhaseName.SPELLCHECK, essays))

    await bos.deliver(request(batch_id, PhaseName.CJ_ASSESSMENT), times=3)
    sent = await commands(bos)
    assert [event_type for event_type, _ in sent] == [SPELLCHECK_TYPE, COMPLETED_TYPE, CJ_TYPE]
    assert sent[2][1]["essays"] == [{"essay_id": str(e), "text_id": CORRECTED} for e in essays]
    assert (await bos.batch(batch_id)).status is BatchStatus.PROCESSING
    await bos.deliver(outcome(bos, batch_id, PhaseName.CJ_ASSESSMENT, essays))
    sent = await commands(bos)
    assert [(p["phase"], p["status"]) for p in sent[-1][1]["phases"]] == [
        ("spellcheck", "skipped"),
        ("cj_assessment", "completed"),
    ]

    # Asking for spellcheck again: nothing to run, the run completes at once, status unchanged.
    await bos.deliver(request(batch_id, PhaseName.SPELLCHECK), times=3)
    sent = await commands(bos)
    assert [event_type for event_type, _ in sent].count(COMPLETED_TYPE) == 3
    assert sent[-1][1]["phases"] == [
        {"phase": "spellcheck", "status": "skipped", "succeeded_count": 0, "failed_count": 0}
    ]
    assert (await bos.batch(batch_id)).status is BatchStatus.COMPLETED_SUCCESSFULLY


async def test_requests_that_cannot_start_change_nothing(bos: Any) -> None:
    awaiting = await bos.register(expected_essay_count=1)
    await bos.deliver(request(awaiting.batch_id, PhaseName.SPELLCHECK))
    batch_id, _ = await ready_batch(bos, count=1)
    await bos.deliver(request(batch_id, PhaseName.SPELLCHECK))
    before = await bos.snapshot()
    # A second, distinct request while the first runs: rejected, logged, nothing recorded.
    await bos.deliver(request(batch_id, PhaseName.CJ_ASSESSMENT), times=2)
    assert await bos.snapshot() == before
    assert (await bos.batch(awaiting.batch_id)).status is BatchStatus.AWAITING_CONTENT
    assert len(before["pipeline_runs"]) == 1
    with pytest.raises(UnknownBatchError):
        await bos.deliver(request(uuid.uuid4(), PhaseName.SPELLCHECK))


async def test_an_outcome_for_a_phase_not_dispatched_is_ignored(bos: Any) -> None:
    batch_id, essays = await ready_batch(bos, count=2)
    # No run yet.
    await bos.deliver(outcome(bos, batch_id, PhaseName.SPELLCHECK, essays))
    await bos.deliver(request(batch_id, PhaseName.CJ_ASSESSMENT))
    before = await bos.snapshot()
    # CJ is still pending in this run: its outcome is not the one awaited.
    await bos.deliver(outcome(bos, batch_id, PhaseName.CJ_ASSESSMENT, essays))
    assert await bos.snapshot() == before
    assert [slot["text_id"] for slot in before["batch_essays"]] == [ORIGINAL] * 2


async def test_racing_duplicate_outcomes_dispatch_one_next_phase(bos: Any) -> None:
    batch_id, essays = await ready_batch(bos, count=3)
    await bos.deliver(request(batch_id, PhaseName.CJ_ASSESSMENT))
    handler = event_handlers(bos.phase_timeout)[
        REGISTRY.spec_for_model(ELSBatchPhaseOutcome).event_type
    ]

    async def deliver_in_own_transaction(envelope: EventEnvelope[Any]) -> None:
        async with bos.unit_of_work() as uow:
            await handler(envelope, uow)
            await uow.commit()

    spellchecked = [outcome(bos, batch_id, PhaseName.SPELLCHECK, essays) for _ in range(4)]
    await asyncio.gather(*(deliver_in_own_transaction(e) for e in spellchecked))
    assert [t for t, _ in await commands(bos)] == [SPELLCHECK_TYPE, CJ_TYPE]

    assessed = [outcome(bos, batch_id, PhaseName.CJ_ASSESSMENT, essays) for _ in range(4)]
    await asyncio.gather(*(deliver_in_own_transaction(e) for e in assessed))
    assert [t for t, _ in await commands(bos)] == [SPELLCHECK_TYPE, CJ_TYPE, COMPLETED_TYPE]
    assert (await bos.batch(batch_id)).status is BatchStatus.COMPLETED_SUCCESSFULLY


async def test_the_monitor_fails_a_stuck_phase_once(bos: Any) -> None:
    batch_id, essays = await ready_batch(bos, count=2)
    await bos.deliver(request(batch_id, PhaseName.CJ_ASSESSMENT))
    other_id, other_essays = await ready_batch(bos, count=1)
    await bos.deliver(request(other_id, PhaseName.SPELLCHECK))
    # The first batch's phase is overdue; the other's deadline is far away.
    async with bos.engine.begin() as connection:
        await connection.execute(
            update(pipeline_phases)
            .where(pipeline_phases.c.status == PhaseStatus.DISPATCHED)
            .where(
                pipeline_phases.c.run_id.in_(
                    select(pipeline_runs.c.run_id).where(pipeline_runs.c.batch_id == batch_id)
                )
            )
            .values(deadline_at=pipeline_phases.c.dispatched_at - timedelta(seconds=1))
        )

    results = await asyncio.gather(
        *(fail_overdue_phases(bos.unit_of_work, phase_timeout=bos.phase_timeout) for _ in range(3))
    )
    assert sum(results) == 1
    assert await fail_overdue_phases(bos.unit_of_work, phase_timeout=bos.phase_timeout) == 0

    batch = await bos.batch(batch_id)
    assert batch.status is BatchStatus.FAILED
    assert batch.failure_reason == PHASE_TIMEOUT_REASON
    assert (await bos.batch(other_id)).status is BatchStatus.PROCESSING
    sent = await commands(bos)
    assert [t for t, _ in sent] == [SPELLCHECK_TYPE, SPELLCHECK_TYPE, COMPLETED_TYPE]
    assert sent[2][1]["final_status"] == "failed"
    assert [(p["phase"], p["status"], p["failed_count"]) for p in sent[2][1]["phases"]] == [
        ("spellcheck", "failed", 2),
        ("cj_assessment", "pending", 0),
    ]
    failed_phase = next(row for row in await phase_rows(bos) if row["failure_reason"] is not None)
    assert failed_phase["failure_reason"] == PHASE_TIMEOUT_REASON

    # The outcome arriving after the timeout is late: nothing changes.
    before = await bos.snapshot()
    await bos.deliver(outcome(bos, batch_id, PhaseName.SPELLCHECK, essays))
    assert await bos.snapshot() == before
    assert other_essays


async def test_the_worker_monitor_task_times_out_a_phase(bos: Any) -> None:
    """The background task as the worker runs it, from the service's container."""
    settings = bos.settings.model_copy(
        update={"phase_timeout_s": 0.001, "phase_monitor_interval_s": 0.05}
    )
    assert phase_deadline_monitor in DEFINITION.background
    batch_id, _ = await ready_batch(bos, count=1)
    handler = event_handlers(timedelta(seconds=settings.phase_timeout_s))[
        REGISTRY.spec_for_model(ClientBatchPipelineRequest).event_type
    ]
    async with bos.unit_of_work() as uow:
        await handler(request(batch_id, PhaseName.SPELLCHECK), uow)
        await uow.commit()

    container = DEFINITION.container(settings)
    stop = asyncio.Event()
    monitor = asyncio.create_task(phase_deadline_monitor(container, stop))
    try:
        async with asyncio.timeout(60):
            while True:
                if (await bos.batch(batch_id)).status is BatchStatus.FAILED:
                    break
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(monitor, timeout=30)
        await container.close()
    assert [t for t, _ in await commands(bos)] == [SPELLCHECK_TYPE, COMPLETED_TYPE]


async def test_the_batch_view_shows_the_latest_pipeline(client: QuartClient, bos: Any) -> None:
    batch_id, essays = await ready_batch(bos, count=2)
    response = await client.get(f"/v1/batches/{batch_id}")
    assert (await response.get_json())["pipeline"] is None

    start = request(batch_id, PhaseName.CJ_ASSESSMENT)
    await bos.deliver(start)
    await bos.deliver(outcome(bos, batch_id, PhaseName.SPELLCHECK, essays[:1], failed=essays[1:]))
    response = await client.get(f"/v1/batches/{batch_id}")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["status"] == "processing"
    assert body["pipeline"] == {
        "run_id": str(start.event_id),
        "requested_pipeline": "cj_assessment",
        "status": "processing",
        "phases": [
            {
                "phase": "spellcheck",
                "status": "completed_with_failures",
                "succeeded_count": 1,
                "failed_count": 1,
                "failure_reason": None,
            },
            {
                "phase": "cj_assessment",
                "status": "dispatched",
                "succeeded_count": 0,
                "failed_count": 0,
                "failure_reason": None,
            },
        ],
    }
    listed = await (await client.get("/v1/batches?user_id=teacher-1")).get_json()
    assert [item["pipeline"] for item in listed["items"]] == [body["pipeline"]]


async def test_a_run_with_no_usable_essay_fails_at_once_with_a_reason(bos: Any) -> None:
    batch_id, _ = await ready_batch(bos, count=1)
    async with bos.engine.begin() as connection:
        await connection.execute(
            update(batch_essays).where(batch_essays.c.batch_id == batch_id).values(text_id=None)
        )
    await bos.deliver(request(batch_id, PhaseName.SPELLCHECK), times=2)
    batch = await bos.batch(batch_id)
    assert batch.status is BatchStatus.FAILED
    assert batch.failure_reason == NO_USABLE_ESSAYS
    [(event_type, completed)] = await commands(bos)
    assert event_type == COMPLETED_TYPE
    assert completed["phases"] == [
        {"phase": "spellcheck", "status": "failed", "succeeded_count": 0, "failed_count": 0}
    ]


def _phase_duration(sample: str, status: str, **labels: str) -> float:
    value = REGISTRY_METRICS.get_sample_value(
        f"huleedu_bos_phase_duration_seconds_{sample}",
        {"phase": "spellcheck", "status": status, **labels},
    )
    return value or 0.0


async def _dispatched_earlier(bos: Any, batch_id: UUID, seconds: int) -> None:
    """Move the batch's dispatched phase `seconds` into the past, deadline included."""
    async with bos.engine.begin() as connection:
        await connection.execute(
            update(pipeline_phases)
            .where(pipeline_phases.c.status == PhaseStatus.DISPATCHED)
            .where(
                pipeline_phases.c.run_id.in_(
                    select(pipeline_runs.c.run_id).where(pipeline_runs.c.batch_id == batch_id)
                )
            )
            .values(
                dispatched_at=pipeline_phases.c.dispatched_at - timedelta(seconds=seconds),
                deadline_at=pipeline_phases.c.deadline_at - timedelta(seconds=seconds),
            )
        )


async def test_a_phase_end_observes_its_duration_once(bos: Any) -> None:
    """From dispatch to outcome (status of the phase) or to the monitor's timeout (failed)."""
    before = {
        (sample, status): _phase_duration(sample, status)
        for sample in ("count", "sum")
        for status in ("completed", "failed")
    }
    below_60 = _phase_duration("bucket", "completed", le="60.0")
    batch_id, essays = await ready_batch(bos, count=2)
    await bos.deliver(request(batch_id, PhaseName.SPELLCHECK))
    await _dispatched_earlier(bos, batch_id, 90)
    await bos.deliver(outcome(bos, batch_id, PhaseName.SPELLCHECK, essays), times=3)

    assert _phase_duration("count", "completed") - before["count", "completed"] == 1
    assert 90 <= _phase_duration("sum", "completed") - before["sum", "completed"] < 3600
    assert _phase_duration("bucket", "completed", le="60.0") == below_60

    stuck_id, _ = await ready_batch(bos, count=1)
    await bos.deliver(request(stuck_id, PhaseName.SPELLCHECK))
    await _dispatched_earlier(bos, stuck_id, int(bos.phase_timeout.total_seconds()) + 5)
    assert await fail_overdue_phases(bos.unit_of_work, phase_timeout=bos.phase_timeout) == 1
    assert await fail_overdue_phases(bos.unit_of_work, phase_timeout=bos.phase_timeout) == 0

    assert _phase_duration("count", "failed") - before["count", "failed"] == 1
    assert _phase_duration("sum", "failed") - before["sum", "failed"] >= (
        bos.phase_timeout.total_seconds()
    )
