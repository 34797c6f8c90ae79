"""A teacher runs the spellcheck pipeline on a ready batch, through the gateway."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from huleedu_client import ApiError, TeacherClient, UploadFile

pytestmark = pytest.mark.functional

TeacherFactory = Callable[[str], Awaitable[TeacherClient]]

LEARNER_ESSAY = (
    "Today have many students phones in school. I think alot of them use it becouse they "
    "are bored, and the teachers definately notice it. Essay {n} says that a clear rule "
    "would help everyone in Malmö and Umeå to concentrate on the lessons again."
)


async def ready_batch(teacher: TeacherClient, count: int) -> str:
    batch_id = str((await teacher.register_batch(count, course_code="ENG5"))["batch_id"])
    files = [
        UploadFile(f"essay_{n:02}.txt", LEARNER_ESSAY.format(n=n).encode(), "text/plain")
        for n in range(count)
    ]
    await teacher.upload_files(batch_id, files)
    await teacher.wait_for_status(batch_id, ["ready"], within_s=90)
    return batch_id


async def test_spellcheck_pipeline_corrects_every_essay(teacher_factory: TeacherFactory) -> None:
    teacher = await teacher_factory("teacher-spellcheck")
    batch_id = await ready_batch(teacher, 25)

    accepted = await teacher.start_pipeline(batch_id, "spellcheck")
    assert accepted["status"] == "accepted"

    status = await teacher.wait_for_status(
        batch_id, ["completed_successfully", "completed_with_failures", "failed"], within_s=120
    )
    assert status["status"] == "completed_successfully"
    assert len(status["essays"]) == 25
    for essay in status["essays"]:
        [spellcheck] = [p for p in essay["phases"] if p["phase"] == "spellcheck"]
        assert spellcheck["status"] == "spellchecked"
        assert spellcheck["text_id"]
        assert spellcheck["details"]["total_corrections"] >= 3  # alot, becouse, definately


async def test_pipeline_on_a_batch_still_awaiting_content_is_409(
    teacher_factory: TeacherFactory,
) -> None:
    teacher = await teacher_factory("teacher-early")
    batch_id = str((await teacher.register_batch(3, course_code="ENG5"))["batch_id"])
    with pytest.raises(ApiError) as early:
        await teacher.start_pipeline(batch_id, "spellcheck")
    assert (early.value.status, early.value.code) == (409, "conflict")
