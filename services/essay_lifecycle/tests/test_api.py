"""GET /v1/batches/{batch_id}/essays on the real app and database."""

from __future__ import annotations

import uuid

import pytest
from essay_lifecycle.service import DEFINITION

from common_core.errors import ErrorCode
from huleedu_service_libs.testing.services import http_test_client

pytestmark = pytest.mark.integration


async def test_batch_essays_read_shows_slots_failures_surplus_and_pending(els) -> None:
    registration = els.registered(slots=2)
    batch_id = registration.data.batch_id
    early = els.content(batch_id, name="early.txt")
    await els.handle(early)

    async with http_test_client(DEFINITION, els.settings) as client:
        unknown = await client.get(f"/v1/batches/{uuid.uuid4()}/essays")
        assert unknown.status_code == 404
        assert (await unknown.get_json())["code"] == "not_found"
        malformed = await client.get("/v1/batches/not-a-batch/essays")
        assert malformed.status_code == 404

        waiting = await client.get(f"/v1/batches/{batch_id}/essays")
        assert waiting.status_code == 200
        assert await waiting.get_json() == {
            "batch_id": str(batch_id),
            "registered": False,
            "expected_essay_count": None,
            "intake_completed_at": None,
            "essays": [],
            "excess": [],
            "pending_content": 1,
        }

        await els.handle(registration)
        await els.handle(
            els.failure(batch_id, name="bad.pdf", reason=ErrorCode.ENCRYPTED_FILE, message="locked")
        )
        surplus = els.content(batch_id, name="surplus.txt")
        await els.handle(surplus)

        response = await client.get(f"/v1/batches/{batch_id}/essays")
        assert response.status_code == 200
        body = await response.get_json()

    assert body["registered"] is True
    assert body["expected_essay_count"] == 2
    assert body["intake_completed_at"] is not None
    assert body["pending_content"] == 0
    assert body["essays"] == [
        {
            "essay_id": str(registration.data.essay_ids[0]),
            "status": "ready_for_processing",
            "original_file_name": "early.txt",
            "file_upload_id": str(early.data.file_upload_id),
            "text_id": early.data.text_id,
            "failure": None,
            "phases": [],
        },
        {
            "essay_id": str(registration.data.essay_ids[1]),
            "status": "validation_failed",
            "original_file_name": "bad.pdf",
            "file_upload_id": body["essays"][1]["file_upload_id"],
            "text_id": None,
            "failure": {"code": "encrypted_file", "message": "locked"},
            "phases": [],
        },
    ]
    assert body["excess"] == [
        {
            "file_upload_id": str(surplus.data.file_upload_id),
            "original_file_name": "surplus.txt",
            "text_id": surplus.data.text_id,
            "failure": None,
        }
    ]


async def test_the_read_is_in_the_openapi_document(els) -> None:
    async with http_test_client(DEFINITION, els.settings) as client:
        document = await (await client.get("/openapi.json")).get_json()
    assert "/v1/batches/{batch_id}/essays" in document["paths"]
