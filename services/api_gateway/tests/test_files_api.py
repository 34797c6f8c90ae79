"""Uploads: the gateway checks ownership, then forwards the multipart to file_service (stand-in
per briefs/intake.md) with the teacher in X-User-ID, and returns file_service's answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from api_gateway.settings import GatewaySettings
from gateway_harness import bearer, served_gateway  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration

ESSAY = "Min sommar i Skåne var lång och varm, och jag läste mycket.".encode()


@pytest.fixture
async def gateway(
    gateway_settings_factory: Callable[..., GatewaySettings],
) -> AsyncIterator[httpx.AsyncClient]:
    async with served_gateway(gateway_settings_factory()) as client:
        yield client


async def registered_batch(gateway: httpx.AsyncClient, teacher: str, count: int = 3) -> str:
    response = await gateway.post(
        "/v1/batches/register",
        json={"expected_essay_count": count, "course_code": "ENG5"},
        headers=bearer(teacher),
    )
    assert response.status_code == 202
    batch_id: str = response.json()["batch_id"]
    return batch_id


def _file(name: str, data: bytes, content_type: str = "text/plain") -> tuple[str, bytes, str]:
    return (name, data, content_type)


async def test_files_are_forwarded_intact_with_the_teacher_and_the_correlation_id(
    gateway: httpx.AsyncClient, teacher: str, stand_ins: Any
) -> None:
    batch_id = await registered_batch(gateway, teacher)
    correlation_id = uuid.uuid4()
    large = b"%PDF-1.7 " + bytes(range(256)) * 4096  # spooled to disk by the form parser
    response = await gateway.post(
        "/v1/files/batch",
        headers={**bearer(teacher), "X-Correlation-ID": str(correlation_id)},
        data={"batch_id": batch_id},
        files=[
            ("files", _file("Åsa Öberg.txt", ESSAY)),
            ("files", _file("empty.txt", b"")),
            ("files", _file("report.pdf", large, "application/pdf")),
        ],
    )
    assert response.status_code == 202
    body = response.json()
    assert body["batch_id"] == batch_id
    assert [(f["file_name"], f["status"], f["reason"]) for f in body["files"]] == [
        ("Åsa Öberg.txt", "accepted", None),
        ("empty.txt", "rejected", "empty_content"),
        ("report.pdf", "accepted", None),
    ]

    forwarded = stand_ins.platform.requests_to("file_service")[-1]
    assert forwarded.headers["X-User-Id"] == teacher
    assert forwarded.headers["X-Correlation-Id"] == str(correlation_id)
    assert forwarded.form == {"batch_id": [batch_id]}
    assert forwarded.files == [
        ("files", "Åsa Öberg.txt", ESSAY),
        ("files", "empty.txt", b""),
        ("files", "report.pdf", large),
    ]


async def test_files_sent_as_files_brackets_are_accepted_too(
    gateway: httpx.AsyncClient, teacher: str, stand_ins: Any
) -> None:
    batch_id = await registered_batch(gateway, teacher)
    response = await gateway.post(
        "/v1/files/batch",
        headers=bearer(teacher),
        data={"batch_id": batch_id},
        files=[("files[]", _file("a.txt", ESSAY)), ("files[]", _file("b.txt", ESSAY))],
    )
    assert response.status_code == 202
    assert [f["file_name"] for f in response.json()["files"]] == ["a.txt", "b.txt"]
    assert [f[0] for f in stand_ins.platform.requests_to("file_service")[-1].files] == [
        "files",
        "files",
    ]


@pytest.mark.parametrize(
    ("form", "with_file", "field"),
    [
        ({}, True, "batch_id"),
        ({"batch_id": "not-a-uuid"}, True, "batch_id"),
        ({"batch_id": str(uuid.uuid4())}, False, "files"),
    ],
)
async def test_an_incomplete_upload_form_is_400_naming_the_field(
    gateway: httpx.AsyncClient, teacher: str, form: dict[str, str], with_file: bool, field: str
) -> None:
    response = await gateway.post(
        "/v1/files/batch",
        headers=bearer(teacher),
        data=form,
        files={"files": _file("a.txt", ESSAY)} if with_file else None,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert [e["loc"][0] for e in body["details"]["errors"]] == [field]


async def test_an_unknown_batch_is_404_and_nothing_is_forwarded(
    gateway: httpx.AsyncClient, teacher: str, stand_ins: Any
) -> None:
    before = len(stand_ins.platform.requests_to("file_service"))
    response = await gateway.post(
        "/v1/files/batch",
        headers=bearer(teacher),
        data={"batch_id": str(uuid.uuid4())},
        files={"files": _file("a.txt", ESSAY)},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert len(stand_ins.platform.requests_to("file_service")) == before


async def test_file_service_refusals_reach_the_teacher_with_its_own_error(
    gateway: httpx.AsyncClient, teacher: str
) -> None:
    batch_id = await registered_batch(gateway, teacher)
    response = await gateway.post(
        "/v1/files/batch",
        headers=bearer(teacher),
        data={"batch_id": batch_id},
        files=[("files", _file(f"{i}.txt", ESSAY)) for i in range(6)],  # stand-in allows 5
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "too_many_files"
    assert body["service"] == "file_service"


async def test_an_upload_over_the_request_limit_is_413(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    settings = gateway_settings_factory(max_upload_request_bytes=4096)
    async with served_gateway(settings) as gateway:
        batch_id = await registered_batch(gateway, teacher)
        response = await gateway.post(
            "/v1/files/batch",
            headers=bearer(teacher),
            data={"batch_id": batch_id},
            files={"files": _file("big.txt", b"x" * 10_000)},
        )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
