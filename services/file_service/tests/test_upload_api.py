"""POST /v1/files/batch against the real content_service and batch_orchestrator.

Every file gets an outcome, a row and exactly one outbox event; request-level refusals
(unknown batch, closed batch, too many files, too large, storage down) record nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from file_service.models import metadata
from file_service.service import DEFINITION
from file_service_harness import (  # type: ignore[import-not-found]
    TEACHER,
    BatchOrchestrator,
    FileService,
)

from common_core.events import REGISTRY
from common_core.events.base import EssayTextRef
from common_core.events.batch import BatchEssaysReady
from common_core.events.essay import EssayContentProvisioned, EssayValidationFailed
from huleedu_service_libs.testing.documents import (
    ENGLISH_ESSAY,
    ESSAY,
    binary_garbage,
    docx_bytes,
    pdf_bytes,
)
from huleedu_service_libs.testing.schema_drift import check_migrations_match_models
from huleedu_service_libs.testing.services import closed_port_url

pytestmark = pytest.mark.integration

Part = tuple[str, tuple[str, bytes, str]]


def part(file_name: str, data: bytes, media_type: str = "application/octet-stream") -> Part:
    return ("files", (file_name, data, media_type))


async def upload(
    service: FileService,
    batch_id: UUID | str,
    parts: list[Part],
    *,
    user_id: str | None = TEACHER,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    request_headers = dict(headers or {})
    if user_id is not None:
        request_headers["X-User-ID"] = user_id
    async with service.client() as client:
        response: httpx.Response = await client.post(
            "/v1/files/batch",
            data={"batch_id": str(batch_id)},
            files=parts,
            headers=request_headers,
        )
    return response


async def assert_nothing_recorded(service: FileService) -> None:
    assert await service.uploads() == []
    assert await service.outbox() == []


async def test_migrations_match_models(database_url: str) -> None:
    assert DEFINITION.migrations is not None
    await check_migrations_match_models(database_url, DEFINITION.migrations, metadata)


async def test_mixed_upload_gets_one_outcome_row_and_event_per_file(
    file_service: FileService, batch_orchestrator: BatchOrchestrator, content_service_url: str
) -> None:
    batch_id = await batch_orchestrator.register(expected_essay_count=10)
    long_text = ("ord " * 12_501).strip()  # 50,003 characters
    files: list[tuple[str, bytes, str, str | None]] = [
        # name, bytes, expected status, expected reason
        ("utf8.txt", ESSAY.encode(), "accepted", None),
        ("windows.txt", ESSAY.replace("\n", "\r\n").encode("cp1252"), "accepted", None),
        ("utf16.txt", ESSAY.encode("utf-16"), "accepted", None),
        ("essay.docx", docx_bytes(["Rubrik", ESSAY]), "accepted", None),
        ("essay.pdf", pdf_bytes([ENGLISH_ESSAY[:70], ENGLISH_ESSAY[70:]]), "accepted", None),
        ("copy-of-utf8.txt", ESSAY.encode(), "accepted", None),
        ("empty.txt", b"", "rejected", "empty_content"),
        ("garbage.txt", binary_garbage(), "rejected", "corrupted_file"),
        ("broken.docx", docx_bytes([ESSAY])[:-300], "rejected", "corrupted_file"),
        ("locked.pdf", pdf_bytes([ESSAY], user_password="hemligt"), "rejected", "encrypted_file"),
        ("huge.txt", b"a " * 60_000, "rejected", "file_too_large"),
        ("short.txt", b"Too short to be an essay.", "rejected", "content_too_short"),
        ("long.txt", long_text.encode(), "rejected", "content_too_long"),
        ("essay.odt", ESSAY.encode(), "rejected", "unsupported_file_type"),
    ]
    correlation_id = uuid4()

    response = await upload(
        file_service,
        batch_id,
        [part(name, data) for name, data, _, _ in files],
        headers={"X-Correlation-ID": str(correlation_id)},
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["batch_id"] == str(batch_id)
    outcomes = body["files"]
    assert [(o["file_name"], o["status"], o["reason"]) for o in outcomes] == [
        (name, status, reason) for name, _, status, reason in files
    ]
    assert all((o["message"] is None) == (o["status"] == "accepted") for o in outcomes)
    upload_ids = [UUID(o["file_upload_id"]) for o in outcomes]
    assert len(set(upload_ids)) == len(files)

    rows = {row["file_upload_id"]: row for row in await file_service.uploads()}
    assert set(rows) == set(upload_ids)
    for upload_id, (name, data, status, reason) in zip(upload_ids, files, strict=True):
        row = rows[upload_id]
        assert (row["original_file_name"], row["outcome"], row["reason"]) == (name, status, reason)
        assert (row["batch_id"], row["user_id"], row["size_bytes"]) == (
            batch_id,
            TEACHER,
            len(data),
        )
        assert row["correlation_id"] == correlation_id

    outbox = await file_service.outbox()
    assert len(outbox) == len(files)
    events: dict[UUID, Any] = {}
    for row in outbox:
        envelope = REGISTRY.decode(row["payload"])
        assert row["event_id"] == envelope.event_id
        assert row["aggregate_key"] == str(batch_id)
        assert row["topic"].endswith(REGISTRY.spec(envelope.event_type).topic)
        assert envelope.correlation_id == correlation_id
        assert envelope.source_service == "file_service"
        assert envelope.metadata.traceparent
        events[envelope.data.file_upload_id] = envelope.data  # type: ignore[attr-defined]
    assert set(events) == set(upload_ids)

    async with httpx.AsyncClient(base_url=content_service_url) as content:
        for upload_id, (name, data, status, reason) in zip(upload_ids, files, strict=True):
            event = events[upload_id]
            assert event.batch_id == batch_id
            assert event.original_file_name == name
            if status == "accepted":
                assert isinstance(event, EssayContentProvisioned)
                assert rows[upload_id]["text_id"] == event.text_id
                text = (await content.get(f"/v1/content/{event.text_id}")).content.decode()
                assert event.character_count == len(text)
                raw = await content.get(f"/v1/content/{event.raw_file_id}")
                assert raw.content == data
            else:
                assert isinstance(event, EssayValidationFailed)
                assert event.reason == reason
                assert event.message == rows[upload_id]["message"]
                if reason in ("empty_content", "file_too_large"):
                    assert event.raw_file_id is None
                else:
                    assert event.raw_file_id == hashlib.sha256(data).hexdigest()

    # The same essay in three encodings is one text; two uploads of it are still two events.
    text_ids = {events[upload_ids[i]].text_id for i in (0, 1, 2, 5)}
    assert len(text_ids) == 1
    async with httpx.AsyncClient(base_url=content_service_url) as content:
        stored = await content.get(f"/v1/content/{text_ids.pop()}")
    assert stored.content.decode() == ESSAY
    assert stored.headers["content-type"].startswith("text/plain")
    docx_text = await _text(content_service_url, events[upload_ids[3]].text_id)
    assert docx_text == f"Rubrik\n\n{ESSAY}"
    assert events[upload_ids[4]].file_format == "pdf"


async def _text(content_service_url: str, text_id: str) -> str:
    async with httpx.AsyncClient(base_url=content_service_url) as content:
        return (await content.get(f"/v1/content/{text_id}")).content.decode()


async def test_a_single_file_is_accepted(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register()
    response = await upload(file_service, batch_id, [part("one.txt", ESSAY.encode())])
    assert response.status_code == 202, response.text
    assert [o["status"] for o in response.json()["files"]] == ["accepted"]
    assert len(await file_service.outbox()) == 1


async def test_unknown_batch_is_404(file_service: FileService) -> None:
    response = await upload(file_service, uuid4(), [part("a.txt", ESSAY.encode())])
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    await assert_nothing_recorded(file_service)


async def test_another_teachers_batch_is_404(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register(user_id="teacher-2")
    response = await upload(file_service, batch_id, [part("a.txt", ESSAY.encode())])
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    await assert_nothing_recorded(file_service)


async def test_too_many_files_is_400(
    file_service_factory: Any, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register()
    async with file_service_factory(max_files_per_request=3) as service:
        response = await upload(
            service, batch_id, [part(f"{i}.txt", ESSAY.encode()) for i in range(4)]
        )
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "too_many_files"
        assert body["details"] == {"files": 4, "max_files": 3}
        await assert_nothing_recorded(service)


async def test_request_over_the_size_limit_is_413(
    file_service_factory: Any, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register()
    async with file_service_factory(max_request_bytes=20_000, max_file_bytes=15_000) as service:
        parts = [part(f"{i}.txt", ((ENGLISH_ESSAY + " ") * 60).encode()) for i in range(3)]
        response = await upload(service, batch_id, parts)
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        await assert_nothing_recorded(service)


async def test_request_over_the_size_limit_without_a_declared_length_is_413(
    file_service_factory: Any, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register()
    async with file_service_factory(max_request_bytes=20_000, max_file_bytes=15_000) as service:
        prepared = httpx.Request(
            "POST",
            f"{service.url}/v1/files/batch",
            data={"batch_id": str(batch_id)},
            files=[part(f"{i}.txt", ((ENGLISH_ESSAY + " ") * 60).encode()) for i in range(3)],
        )
        body = prepared.read()

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 4096):
                yield body[start : start + 4096]

        async with service.client() as client:
            response = await client.post(
                "/v1/files/batch",
                content=chunks(),
                headers={
                    "Content-Type": prepared.headers["Content-Type"],
                    "X-User-ID": TEACHER,
                },
            )
        assert response.request.headers.get("Transfer-Encoding") == "chunked"
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        await assert_nothing_recorded(service)


async def test_batch_that_no_longer_accepts_content_is_409(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register()
    await batch_orchestrator.deliver(BatchEssaysReady(batch_id=batch_id, ready_essays=[]))
    assert await batch_orchestrator.status(batch_id) == "failed"

    response = await upload(file_service, batch_id, [part("late.txt", ESSAY.encode())])

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "batch_not_accepting_content"
    assert body["details"]["status"] == "failed"
    await assert_nothing_recorded(file_service)


async def test_ready_batch_still_takes_files(
    file_service: FileService, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register(expected_essay_count=1)
    ready = EssayTextRef(essay_id=uuid4(), text_id="0" * 64)
    await batch_orchestrator.deliver(BatchEssaysReady(batch_id=batch_id, ready_essays=[ready]))
    assert await batch_orchestrator.status(batch_id) == "ready"

    response = await upload(file_service, batch_id, [part("extra.txt", ESSAY.encode())])

    assert response.status_code == 202, response.text
    assert len(await file_service.outbox()) == 1


async def test_content_service_outage_is_503_and_records_nothing(
    file_service_factory: Any, batch_orchestrator: BatchOrchestrator
) -> None:
    batch_id = await batch_orchestrator.register()
    async with file_service_factory(content_service_url=closed_port_url()) as service:
        parts = [part("a.txt", ESSAY.encode()), part("b.docx", docx_bytes([ESSAY]))]
        response = await upload(service, batch_id, parts)
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
        await assert_nothing_recorded(service)


async def test_batch_orchestrator_outage_is_503(file_service_factory: Any) -> None:
    async with file_service_factory(batch_orchestrator_url=closed_port_url()) as service:
        response = await upload(service, uuid4(), [part("a.txt", ESSAY.encode())])
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
        await assert_nothing_recorded(service)


@pytest.mark.parametrize(
    ("user_id", "batch_id", "with_files"),
    [
        pytest.param(None, str(uuid4()), True, id="no-teacher"),
        pytest.param(TEACHER, "not-a-uuid", True, id="bad-batch-id"),
        pytest.param(TEACHER, str(uuid4()), False, id="no-files"),
    ],
)
async def test_malformed_requests_are_400(
    file_service: FileService, user_id: str | None, batch_id: str, with_files: bool
) -> None:
    parts = [part("a.txt", ESSAY.encode())] if with_files else []
    async with file_service.client() as client:
        response = await client.post(
            "/v1/files/batch",
            data={"batch_id": batch_id},
            files=parts or {"other": ("x.txt", b"x")},
            headers={"X-User-ID": user_id} if user_id else {},
        )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    await assert_nothing_recorded(file_service)


async def test_openapi_documents_the_multipart_upload(file_service: FileService) -> None:
    async with file_service.client() as client:
        document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/v1/files/batch"]["post"]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(schema["required"]) == {"batch_id", "files"}
    assert "202" in operation["responses"]
