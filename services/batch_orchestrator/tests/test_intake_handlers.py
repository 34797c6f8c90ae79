"""BOS's intake handlers on a real database, each delivered once and three times."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from batch_orchestrator.errors import UnknownBatchError
from batch_orchestrator.handlers.essays_ready import handle_essays_ready
from batch_orchestrator.models import batch_essays
from batch_orchestrator.repository import BatchRepository
from prometheus_client import REGISTRY as METRICS
from sqlalchemy import select, text

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events.base import EssayTextRef, FailedEssay
from common_core.events.batch import BatchContentProvisioningCompleted, BatchEssaysReady
from common_core.events.essay import ExcessContentProvisioned
from common_core.status import BatchStatus

pytestmark = pytest.mark.integration

TEXT_IDS = [f"{i:x}" * 64 for i in range(1, 10)]


def failure(code: ErrorCode) -> ErrorDetail:
    return ErrorDetail(code=code, message=f"the file failed: {code}", service="file_service")


def excess(batch_id: uuid.UUID, file_upload_id: uuid.UUID) -> ExcessContentProvisioned:
    return ExcessContentProvisioned(
        batch_id=batch_id,
        file_upload_id=file_upload_id,
        original_file_name="extra.txt",
        text_id=TEXT_IDS[0],
    )


async def test_provisioning_completed_records_counts_once_however_often_delivered(
    bos: Any,
) -> None:
    batch = await bos.register(expected_essay_count=3)
    event = bos.envelope(
        BatchContentProvisioningCompleted(
            batch_id=batch.batch_id, expected_essay_count=3, provisioned_count=2, failed_count=1
        )
    )
    await bos.deliver(event)
    once = await bos.snapshot()
    await bos.deliver(event, times=3)
    assert await bos.snapshot() == once

    stored = await bos.batch(batch.batch_id)
    assert (stored.provisioned_count, stored.failed_count) == (2, 1)
    assert stored.status is BatchStatus.AWAITING_CONTENT  # BatchEssaysReady moves the status
    assert once["event_outbox"] == []


async def test_essays_ready_makes_the_batch_ready_and_keeps_each_slots_text_or_failure(
    bos: Any,
) -> None:
    batch = await bos.register(expected_essay_count=3)
    essays = await bos.essay_ids(batch.batch_id)
    event = bos.envelope(
        BatchEssaysReady(
            batch_id=batch.batch_id,
            ready_essays=[
                EssayTextRef(essay_id=essays[0], text_id=TEXT_IDS[0]),
                EssayTextRef(essay_id=essays[2], text_id=TEXT_IDS[2]),
            ],
            failed_essays=[
                FailedEssay(essay_id=essays[1], error=failure(ErrorCode.CONTENT_TOO_SHORT))
            ],
        )
    )
    await bos.deliver(event)
    once = await bos.snapshot()
    await bos.deliver(event, times=3)
    assert await bos.snapshot() == once

    stored = await bos.batch(batch.batch_id)
    assert stored.status is BatchStatus.READY
    assert stored.failure_reason is None
    assert (stored.provisioned_count, stored.failed_count) == (2, 1)
    slots = once["batch_essays"]
    assert [slot["essay_id"] for slot in slots] == essays
    assert [slot["text_id"] for slot in slots] == [TEXT_IDS[0], None, TEXT_IDS[2]]
    assert slots[0]["failure"] is None
    assert slots[1]["failure"]["code"] == "content_too_short"
    assert once["event_outbox"] == []


async def test_no_usable_essay_fails_the_batch_with_the_reasons(bos: Any) -> None:
    batch = await bos.register(expected_essay_count=3)
    essays = await bos.essay_ids(batch.batch_id)
    codes = [ErrorCode.EMPTY_CONTENT, ErrorCode.CONTENT_TOO_SHORT, ErrorCode.EMPTY_CONTENT]
    event = bos.envelope(
        BatchEssaysReady(
            batch_id=batch.batch_id,
            ready_essays=[],
            failed_essays=[
                FailedEssay(essay_id=essay_id, error=failure(code))
                for essay_id, code in zip(essays, codes, strict=True)
            ],
        )
    )
    await bos.deliver(event)
    once = await bos.snapshot()
    await bos.deliver(event, times=3)
    assert await bos.snapshot() == once

    stored = await bos.batch(batch.batch_id)
    assert stored.status is BatchStatus.FAILED
    assert stored.failure_reason == (
        "no essay passed validation (3 failed: content_too_short: 1, empty_content: 2)"
    )
    assert (stored.provisioned_count, stored.failed_count) == (0, 3)


@pytest.mark.parametrize(
    "status", [BatchStatus.FAILED, BatchStatus.PROCESSING, BatchStatus.CANCELLED]
)
async def test_a_late_essays_ready_changes_nothing(bos: Any, status: BatchStatus) -> None:
    batch = await bos.register(expected_essay_count=2)
    async with bos.unit_of_work() as uow:
        await BatchRepository(uow.session).set_status(
            batch.batch_id, status, failure_reason="set by the test"
        )
        await uow.commit()
    before = await bos.snapshot()
    essays = await bos.essay_ids(batch.batch_id)
    for ready in ([EssayTextRef(essay_id=essays[0], text_id=TEXT_IDS[0])], []):
        await bos.deliver(
            bos.envelope(BatchEssaysReady(batch_id=batch.batch_id, ready_essays=ready)), times=2
        )
    assert await bos.snapshot() == before


async def test_counts_and_readiness_give_one_state_whichever_arrives_first(bos: Any) -> None:
    """The two intake outcomes travel on different topics: no order may be assumed."""
    states = []
    for completed_first in (True, False):
        batch = await bos.register(expected_essay_count=2)
        essays = await bos.essay_ids(batch.batch_id)
        completed = bos.envelope(
            BatchContentProvisioningCompleted(
                batch_id=batch.batch_id, expected_essay_count=2, provisioned_count=1, failed_count=1
            )
        )
        ready = bos.envelope(
            BatchEssaysReady(
                batch_id=batch.batch_id,
                ready_essays=[EssayTextRef(essay_id=essays[0], text_id=TEXT_IDS[0])],
                failed_essays=[
                    FailedEssay(essay_id=essays[1], error=failure(ErrorCode.CORRUPTED_FILE))
                ],
            )
        )
        for envelope in (completed, ready) if completed_first else (ready, completed):
            await bos.deliver(envelope)
        stored = await bos.batch(batch.batch_id)
        states.append((stored.status, stored.provisioned_count, stored.failed_count))
    assert states == [(BatchStatus.READY, 1, 1)] * 2


async def test_racing_essays_ready_events_change_the_status_once(bos: Any) -> None:
    """Two distinct events (e.g. a replay) for one batch, in two transactions at once."""
    batch = await bos.register(expected_essay_count=1)
    essays = await bos.essay_ids(batch.batch_id)
    events = [
        bos.envelope(
            BatchEssaysReady(
                batch_id=batch.batch_id,
                ready_essays=[EssayTextRef(essay_id=essays[0], text_id=TEXT_IDS[0])],
            )
        )
        for _ in range(2)
    ]
    labels = {"trigger": "content_ready", "status": "ready"}
    before = METRICS.get_sample_value("huleedu_bos_batch_transitions_total", labels) or 0.0

    async def second() -> None:
        async with bos.unit_of_work() as uow:
            await handle_essays_ready(events[1], uow)
            await uow.commit()

    async with bos.unit_of_work() as uow:
        await handle_essays_ready(events[0], uow)
        racing = asyncio.create_task(second())
        # The second transaction must wait for the first one's row lock, not decide beside it.
        await wait_for_lock_waiters(bos, 1)
        await uow.commit()
    await racing
    after = METRICS.get_sample_value("huleedu_bos_batch_transitions_total", labels) or 0.0
    assert after - before == 1
    assert (await bos.batch(batch.batch_id)).status is BatchStatus.READY


async def wait_for_lock_waiters(bos: Any, count: int) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(30):
        while True:
            async with bos.engine.connect() as connection:
                if (await connection.execute(query)).scalar_one() >= count:
                    return
            await asyncio.sleep(0.02)


async def test_excess_uploads_count_once_per_file(bos: Any) -> None:
    batch = await bos.register(expected_essay_count=1)
    upload = uuid.uuid4()
    event = bos.envelope(excess(batch.batch_id, upload))
    await bos.deliver(event)
    once = await bos.snapshot()
    await bos.deliver(event, times=3)
    assert await bos.snapshot() == once
    assert (await bos.batch(batch.batch_id)).excess_count == 1

    # The same file in a new event (a re-emission) still counts once; another file counts.
    await bos.deliver(bos.envelope(excess(batch.batch_id, upload)))
    assert (await bos.batch(batch.batch_id)).excess_count == 1
    await bos.deliver(bos.envelope(excess(batch.batch_id, uuid.uuid4())), times=3)
    assert (await bos.batch(batch.batch_id)).excess_count == 2
    assert len((await bos.snapshot())["excess_uploads"]) == 2


@pytest.mark.parametrize(
    "event",
    [
        BatchContentProvisioningCompleted(
            batch_id=uuid.uuid4(), expected_essay_count=1, provisioned_count=1, failed_count=0
        ),
        BatchEssaysReady(
            batch_id=uuid.uuid4(),
            ready_essays=[EssayTextRef(essay_id=uuid.uuid4(), text_id=TEXT_IDS[0])],
        ),
        excess(uuid.uuid4(), uuid.uuid4()),
    ],
    ids=["completed", "ready", "excess"],
)
async def test_an_event_for_an_unregistered_batch_raises_to_be_dead_lettered(
    bos: Any, event: Any
) -> None:
    with pytest.raises(UnknownBatchError):
        await bos.deliver(bos.envelope(event))
    assert await bos.snapshot() == {
        "batches": [],
        "batch_essays": [],
        "excess_uploads": [],
        "pipeline_runs": [],
        "pipeline_phases": [],
        "event_outbox": [],
    }


async def test_essays_of_another_batch_are_not_recorded(bos: Any) -> None:
    batch = await bos.register(expected_essay_count=1)
    other = await bos.register(expected_essay_count=1)
    own = (await bos.essay_ids(batch.batch_id))[0]
    foreign = (await bos.essay_ids(other.batch_id))[0]
    await bos.deliver(
        bos.envelope(
            BatchEssaysReady(
                batch_id=batch.batch_id,
                ready_essays=[
                    EssayTextRef(essay_id=own, text_id=TEXT_IDS[0]),
                    EssayTextRef(essay_id=foreign, text_id=TEXT_IDS[1]),
                ],
            )
        )
    )
    async with bos.engine.connect() as connection:
        rows = (
            await connection.execute(select(batch_essays.c.essay_id, batch_essays.c.text_id))
        ).all()
    assert dict(rows) == {own: TEXT_IDS[0], foreign: None}
