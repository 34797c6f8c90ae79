"""A teacher's intake journey through the gateway, on the platform running as real processes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from huleedu_client import ApiError, TeacherClient, UploadFile
from huleedu_service_libs.testing.documents import (
    binary_garbage,
    docx_bytes,
    pdf_bytes,
)

TeacherFactory = Callable[[str], Awaitable[TeacherClient]]

pytestmark = pytest.mark.functional

ESSAY_SENTENCES = [
    "Mobile phones are part of every student's day, and schools must decide how to handle them.",
    "Some teachers in Umeå say phones distract students, while others use them in lessons.",
    "A fair rule would let students use phones for schoolwork but keep them away in breaks.",
]


def essay_text(number: int) -> str:
    return f"Essay number {number}. " + " ".join(ESSAY_SENTENCES)


def mixed_files(first: int, count: int) -> list[UploadFile]:
    """txt, docx and pdf in turn, each with its own text."""
    files = []
    for number in range(first, first + count):
        text = essay_text(number)
        match number % 3:
            case 0:
                files.append(UploadFile(f"essay_{number:02}.txt", text.encode(), "text/plain"))
            case 1:
                files.append(UploadFile(f"essay_{number:02}.docx", docx_bytes([text])))
            case _:
                files.append(
                    UploadFile(f"essay_{number:02}.pdf", pdf_bytes([text[:90], text[90:]]))
                )
    return files


async def test_batch_of_25_mixed_files_in_3_requests_becomes_ready(
    teacher_factory: TeacherFactory,
) -> None:
    teacher = await teacher_factory("teacher-intake")
    batch = await teacher.register_batch(25, course_code="ENG5", title="Phones")
    batch_id = batch["batch_id"]
    assert (await teacher.batch_status(batch_id))["status"] == "pending_content"

    for first, count in ((0, 9), (9, 8), (17, 8)):
        upload = await teacher.upload_files(batch_id, mixed_files(first, count))
        assert [f["status"] for f in upload["files"]] == ["accepted"] * count

    status = await teacher.wait_for_status(batch_id, ["ready"], within_s=90)
    essays = status["essays"]
    assert len(essays) == 25
    assert sorted(e["file_name"] for e in essays) == sorted(f.name for f in mixed_files(0, 25))
    listed = await teacher.list_batches()
    assert batch_id in [b["batch_id"] for b in listed["items"]]


async def test_another_teacher_sees_404_and_bad_files_are_reported_with_reasons(
    teacher_factory: TeacherFactory,
) -> None:
    owner = await teacher_factory("teacher-owner")
    stranger = await teacher_factory("teacher-stranger")
    batch_id = (await owner.register_batch(5, course_code="ENG5"))["batch_id"]

    with pytest.raises(ApiError) as not_yours:
        await stranger.batch_status(batch_id)
    assert (not_yours.value.status, not_yours.value.code) == (404, "not_found")
    with pytest.raises(ApiError) as no_upload:
        await stranger.upload_files(batch_id, mixed_files(0, 1))
    assert no_upload.value.status == 404

    bad = [
        UploadFile("empty.txt", b"", "text/plain"),
        UploadFile("garbage.txt", binary_garbage(), "text/plain"),
        UploadFile("broken.docx", b"PK\x03\x04 this is not a real docx"),
        UploadFile("locked.pdf", pdf_bytes([essay_text(1)], user_password="secret")),
    ]
    upload = await owner.upload_files(batch_id, [*bad, *mixed_files(10, 1)])
    outcomes = {f["file_name"]: (f["status"], f["reason"]) for f in upload["files"]}
    assert outcomes["empty.txt"] == ("rejected", "empty_content")
    assert outcomes["garbage.txt"] == ("rejected", "corrupted_file")
    assert outcomes["broken.docx"] == ("rejected", "corrupted_file")
    assert outcomes["locked.pdf"] == ("rejected", "encrypted_file")

    # Failed files close their slots: the batch is ready with one essay and four failures.
    status = await owner.wait_for_status(batch_id, ["ready"], within_s=60)
    failed = [e for e in status["essays"] if e["failure"]]
    assert sorted(e["file_name"] for e in failed) == sorted(f.name for f in bad)
    assert all(e["failure"]["message"] for e in failed)


async def test_surplus_files_are_kept_and_shown_as_excess(teacher_factory: TeacherFactory) -> None:
    teacher = await teacher_factory("teacher-excess")
    batch_id = (await teacher.register_batch(2, course_code="ENG5"))["batch_id"]
    await teacher.upload_files(batch_id, mixed_files(20, 3))
    status = await teacher.wait_for_status(batch_id, ["ready"], within_s=60)
    assert len(status["essays"]) == 2
    # The surplus file may be assigned last; its excess record follows within moments.
    for _ in range(100):
        if status["excess_files"]:
            break
        await asyncio.sleep(0.1)
        status = await teacher.batch_status(batch_id)
    assert len(status["excess_files"]) == 1


async def test_a_retried_upload_is_answered_again_and_fills_no_extra_slot(
    teacher_factory: TeacherFactory,
) -> None:
    teacher = await teacher_factory("teacher-retry")
    batch_id = (await teacher.register_batch(2, course_code="ENG5"))["batch_id"]
    files = mixed_files(30, 2)

    first = await teacher.upload_files(batch_id, files, idempotency_key="lost-answer")
    retry = await teacher.upload_files(batch_id, files, idempotency_key="lost-answer")
    assert retry == first
    with pytest.raises(ApiError) as reused:
        await teacher.upload_files(batch_id, mixed_files(32, 1), idempotency_key="lost-answer")
    assert (reused.value.status, reused.value.code) == (422, "idempotency_key_reused")

    status = await teacher.wait_for_status(batch_id, ["ready"], within_s=60)
    await asyncio.sleep(1)  # an extra upload would show up as excess within moments
    status = await teacher.batch_status(batch_id)
    assert len(status["essays"]) == 2
    assert status["excess_files"] == []


async def test_requests_without_a_valid_token_are_401(platform) -> None:
    async with TeacherClient(platform.urls["api_gateway"], "not-a-token") as forged:
        with pytest.raises(ApiError) as error:
            await forged.list_batches()
    assert (error.value.status, error.value.code) == (401, "unauthorized")
