"""Uploads under an Idempotency-Key: a retried request is answered again, recorded once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID

import httpx
import pytest
from file_service.models import upload_requests
from file_service.service import DEFINITION
from file_service_harness import (  # type: ignore[import-not-found]
    TEACHER,
    BatchOrchestrator,
    FileService,
)
from prometheus_client import CollectorRegistry
from sqlalchemy import func, update

from huleedu_service_libs.database import create_engine
from huleedu_service_libs.retention import RetentionJob
from huleedu_service_libs.testing.documents import ENGLISH_ESSAY, ESSAY

pytestmark = pytest.mark.integration


async def upload(
    service: FileService,
    batch_id: UUID,
    files: list[tuple[str, bytes]],
    *,
    key: str | None,
    user_id: str = TEACHER,
) -> httpx.Response:
    headers = {"X-User-ID": user_id}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with service.client() as client:
        response: httpx.Response = await client.post(
            "/v1/files/batch",
            data={"batch_id": str(batch_id)},
            files=[("files", (name, data, "text/plain")) for name, data in files],
            headers=headers,
        )
    return response


FILES = [("a.txt", ESSAY.encode()), ("b.txt", ENGLISH_ESSAY.encode())]


async def test_a_retry_gets_the_first_answer_and_records_nothing_more(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register(expected_essay_count=5)

    first = await upload(file_service, batch_id, FILES, key="upload-1")
    retry = await upload(file_service, batch_id, FILES, key="upload-1")

    assert first.status_code == retry.status_code == 202, retry.text
    assert retry.json() == first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(await file_service.uploads()) == len(FILES)
    assert len(await file_service.outbox()) == len(FILES)


async def test_without_a_key_the_same_files_are_a_second_upload(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register(expected_essay_count=5)
    for _ in range(2):
        assert (await upload(file_service, batch_id, FILES, key=None)).status_code == 202
    assert len(await file_service.outbox()) == 2 * len(FILES)


async def test_a_key_reused_for_other_files_is_refused(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register(expected_essay_count=5)
    assert (await upload(file_service, batch_id, FILES, key="k")).status_code == 202

    other_files = await upload(file_service, batch_id, FILES[:1], key="k")
    other_batch = await upload(file_service, await batch_orchestrator.register(), FILES, key="k")

    for response in (other_files, other_batch):
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"
    assert len(await file_service.outbox()) == len(FILES)


async def test_concurrent_requests_with_one_key_record_one_upload(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register(expected_essay_count=5)

    answers = await asyncio.gather(
        *(upload(file_service, batch_id, FILES, key="same") for _ in range(4))
    )

    assert [a.status_code for a in answers] == [202] * 4
    assert len({a.text for a in answers}) == 1
    assert len(await file_service.uploads()) == len(FILES)
    assert len(await file_service.outbox()) == len(FILES)


async def test_keys_belong_to_one_teacher(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    mine = await batch_orchestrator.register(expected_essay_count=5)
    theirs = await batch_orchestrator.register(expected_essay_count=5, user_id="teacher-2")

    assert (await upload(file_service, mine, FILES, key="k")).status_code == 202
    response = await upload(file_service, theirs, FILES, key="k", user_id="teacher-2")

    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response.headers
    assert len(await file_service.outbox()) == 2 * len(FILES)


@pytest.mark.parametrize("key", ["", "x" * 129, "has space", "ünïcode"])
async def test_a_malformed_key_is_400(
    file_service: FileService, batch_orchestrator: BatchOrchestrator, key: str
) -> None:
    batch_id = await batch_orchestrator.register()
    async with file_service.client() as client:
        response = await client.post(
            "/v1/files/batch",
            data={"batch_id": str(batch_id)},
            files=[("files", ("a.txt", ESSAY.encode(), "text/plain"))],
            headers={"X-User-ID": TEACHER, "Idempotency-Key": key.encode()},
        )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert await file_service.outbox() == []


async def test_an_expired_answer_is_pruned_and_its_key_is_new_again(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register(expected_essay_count=5)
    assert (await upload(file_service, batch_id, FILES, key="k")).status_code == 202
    engine = create_engine(file_service.settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(upload_requests).values(created_at=func.now() - timedelta(hours=73))
            )
        job = RetentionJob(
            engine,
            service_name="file_service",
            outbox_retention=timedelta(days=7),
            inbox_retention=timedelta(days=14),
            expiring=DEFINITION.expiring_rows(file_service.settings),
            registry=CollectorRegistry(),
        )
        assert (await job.prune_once()).expired == {"upload_requests": 1}
    finally:
        await engine.dispose()

    again = await upload(file_service, batch_id, FILES[:1], key="k")
    assert again.status_code == 202
    assert "Idempotent-Replayed" not in again.headers
