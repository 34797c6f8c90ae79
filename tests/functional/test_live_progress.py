"""A teacher follows a pipeline through `GET /v1/batches/{id}/events` on the running platform
(result_aggregator's log and Redis announcements behind the gateway), then resumes the stream
with `Last-Event-ID` and receives exactly what came after it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from huleedu_client import ServerSentEvent, TeacherClient, UploadFile

pytestmark = pytest.mark.functional

TeacherFactory = Callable[[str], Awaitable[TeacherClient]]

ESSAY = (
    "Essay {n}. I think phones in school is a problem becouse students use them alot in "
    "lessons, and the teachers definately see it every day."
)
STREAM_WAIT_S = 180


async def follow(teacher: TeacherClient, batch_id: str, after: int) -> list[ServerSentEvent]:
    async with asyncio.timeout(STREAM_WAIT_S):
        return [
            event
            async for event in teacher.events(batch_id, after=after, until="pipeline.completed")
            if event is not None
        ]


async def test_live_progress_follows_the_pipeline_and_resumes(
    teacher_factory: TeacherFactory,
) -> None:
    teacher = await teacher_factory("teacher-live-progress")
    batch_id = str((await teacher.register_batch(3, course_code="ENG5"))["batch_id"])
    await teacher.upload_files(
        batch_id,
        [UploadFile(f"essay_{n}.txt", ESSAY.format(n=n).encode(), "text/plain") for n in range(3)],
    )
    await teacher.wait_for_status(batch_id, ["ready"], within_s=90)

    following = asyncio.create_task(follow(teacher, batch_id, after=0))
    await teacher.start_pipeline(batch_id, "spellcheck")
    events = await following

    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    kinds = Counter(event.event for event in events)
    assert kinds["file.accepted"] == 3
    assert kinds["essay.spellchecked"] == 3
    assert events[-1].event == "pipeline.completed"
    assert all(event.data["batch_id"] == batch_id for event in events)

    resumed = await follow(teacher, batch_id, after=len(events) - 2)
    assert [event.seq for event in resumed] == [len(events) - 1, len(events)]
