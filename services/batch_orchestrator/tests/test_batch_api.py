"""BOS's HTTP API on a real database: registration, one batch, a teacher's list."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import pytest
from batch_orchestrator.models import metadata
from batch_orchestrator.service import DEFINITION
from quart.testing import QuartClient

from common_core.events import REGISTRY
from common_core.events.base import EssayTextRef
from common_core.events.batch import BatchEssaysReady, BatchEssaysRegistered
from huleedu_service_libs.testing.schema_drift import check_migrations_match_models

pytestmark = pytest.mark.integration

TEXT_ID = "a" * 64


def registration(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "user_id": "teacher-1",
        "expected_essay_count": 3,
        "course_code": "ENG5",
        "title": "Autumn essays",
        "essay_instructions": "Describe a place you love.",
        "class_id": "9B",
        "assignment_id": "eng5-place",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def register(client: QuartClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/v1/batches", json=registration(**overrides))
    assert response.status_code == 202, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    return body


async def test_migrations_match_models(database_url: str) -> None:
    await check_migrations_match_models(database_url, DEFINITION.migrations_path, metadata)


async def test_registration_stores_the_batch_its_essay_ids_and_one_registered_event(
    client: QuartClient, bos: Any
) -> None:
    correlation_id = uuid.uuid4()
    response = await client.post(
        "/v1/batches",
        json=registration(course_code="SV1", expected_essay_count=4),
        headers={"X-Correlation-ID": str(correlation_id)},
    )
    assert response.status_code == 202
    body = await response.get_json()
    assert body["status"] == "pending_content"
    assert body["correlation_id"] == str(correlation_id)
    batch_id = UUID(body["batch_id"])

    rows = await bos.outbox_rows()
    assert len(rows) == 1
    row = rows[0]
    envelope = REGISTRY.decode(row["payload"])
    event = envelope.data
    assert isinstance(event, BatchEssaysRegistered)
    assert envelope.event_id == row["event_id"]
    assert envelope.correlation_id == correlation_id
    assert envelope.source_service == "batch_orchestrator"
    assert envelope.metadata.traceparent
    assert row["topic"] == (
        f"{bos.settings.kafka_topic_prefix}{REGISTRY.spec_for_model(BatchEssaysRegistered).topic}"
    )
    assert row["aggregate_key"] == str(batch_id)
    assert row["headers"]["event_id"] == str(envelope.event_id)
    assert row["published_at"] is None

    assert event.batch_id == batch_id
    assert event.user_id == "teacher-1"
    assert event.expected_essay_count == 4
    assert event.course_code == "SV1"
    assert event.language == "sv"
    assert event.essay_instructions == "Describe a place you love."
    assert event.assignment_id == "eng5-place"
    assert event.essay_ids == await bos.essay_ids(batch_id)
    assert len(set(event.essay_ids)) == 4

    stored = await bos.batch(batch_id)
    assert stored.status == "awaiting_content"
    assert (stored.title, stored.class_id, stored.language) == ("Autumn essays", "9B", "sv")


async def test_optional_fields_may_be_left_out(client: QuartClient, bos: Any) -> None:
    body = await register(
        client,
        title=None,
        essay_instructions=None,
        class_id=None,
        assignment_id=None,
        expected_essay_count=1,
    )
    event = REGISTRY.decode((await bos.outbox_rows())[0]["payload"]).data
    assert isinstance(event, BatchEssaysRegistered)
    assert event.essay_instructions == ""
    assert event.assignment_id is None
    assert event.language == "en"
    view = await (await client.get(f"/v1/batches/{body['batch_id']}")).get_json()
    assert view["title"] is None
    assert view["expected_essay_count"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (registration(expected_essay_count=0), "expected_essay_count"),
        (registration(expected_essay_count=10_000), "expected_essay_count"),
        (registration(expected_essay_count=501), "expected_essay_count"),
        (registration(expected_essay_count="5"), "expected_essay_count"),
        (registration(expected_essay_count=True), "expected_essay_count"),
        ({k: v for k, v in registration().items() if k != "course_code"}, "course_code"),
        (registration(course_code="   "), "course_code"),
        (registration(course_code="X" * 33), "course_code"),
        ({k: v for k, v in registration().items() if k != "user_id"}, "user_id"),
        (registration(title="nul\x00byte"), "title"),
        (registration(essay_instructions="x" * 20_001), "essay_instructions"),
        (registration(assignment_id="a" * 129), "assignment_id"),
    ],
)
async def test_invalid_registrations_are_400_and_store_nothing(
    client: QuartClient, bos: Any, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/batches", json=body)
    assert response.status_code == 400
    error = await response.get_json()
    assert error["code"] == "validation_error"
    assert error["service"] == "batch_orchestrator"
    assert field in {str(loc) for e in error["details"]["errors"] for loc in e["loc"]}
    assert await bos.outbox_rows() == []
    assert (await bos.snapshot())["batches"] == []


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b'{"user_id": "teacher-1", "expected_essay_count": 3,', "application/json"),
        (b"not json at all", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"", "application/json"),
        (b'{"user_id": "t", "expected_essay_count": 3, "course_code": "ENG5"}', "text/plain"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_400(
    client: QuartClient, bos: Any, data: bytes, content_type: str
) -> None:
    response = await client.post("/v1/batches", data=data, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert (await response.get_json())["code"] == "validation_error"
    assert await bos.outbox_rows() == []


async def test_a_registered_batch_reads_back_and_an_unknown_one_is_404(
    client: QuartClient,
) -> None:
    body = await register(client)
    response = await client.get(f"/v1/batches/{body['batch_id']}")
    assert response.status_code == 200
    view = await response.get_json()
    assert view["batch_id"] == body["batch_id"]
    assert view["user_id"] == "teacher-1"
    assert view["course_code"] == "ENG5"
    assert view["class_id"] == "9B"
    assert view["status"] == "awaiting_content"
    assert view["client_status"] == "pending_content"
    assert view["expected_essay_count"] == 3
    assert (view["provisioned_count"], view["failed_count"], view["excess_count"]) == (0, 0, 0)
    assert view["failure_reason"] is None
    assert view["created_at"] == view["updated_at"]

    for path in (f"/v1/batches/{uuid.uuid4()}", "/v1/batches/not-a-uuid"):
        missing = await client.get(path)
        assert missing.status_code == 404
        assert (await missing.get_json())["code"] == "not_found"


async def test_a_teachers_list_is_newest_first_paged_and_filtered_by_client_status(
    client: QuartClient, bos: Any
) -> None:
    ids = [(await register(client, title=f"batch {i}"))["batch_id"] for i in range(3)]
    other = (await register(client, user_id="teacher-2"))["batch_id"]
    ready_id = UUID(ids[1])
    essays = await bos.essay_ids(ready_id)
    await bos.deliver(
        bos.envelope(
            BatchEssaysReady(
                batch_id=ready_id,
                ready_essays=[EssayTextRef(essay_id=e, text_id=TEXT_ID) for e in essays],
            )
        )
    )

    first = await (await client.get("/v1/batches?user_id=teacher-1&limit=2")).get_json()
    assert [item["batch_id"] for item in first["items"]] == [ids[2], ids[1]]
    assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)
    second = await (await client.get("/v1/batches?user_id=teacher-1&limit=2&offset=2")).get_json()
    assert [item["batch_id"] for item in second["items"]] == [ids[0]]
    assert second["total"] == 3
    beyond = await (await client.get("/v1/batches?user_id=teacher-1&offset=10")).get_json()
    assert (beyond["items"], beyond["total"]) == ([], 3)

    ready = await (await client.get("/v1/batches?user_id=teacher-1&status=ready")).get_json()
    assert [item["batch_id"] for item in ready["items"]] == [ids[1]]
    assert ready["items"][0]["client_status"] == "ready"
    assert ready["total"] == 1
    pending = await (
        await client.get("/v1/batches?user_id=teacher-1&status=pending_content")
    ).get_json()
    assert [item["batch_id"] for item in pending["items"]] == [ids[2], ids[0]]

    theirs = await (await client.get("/v1/batches?user_id=teacher-2")).get_json()
    assert [item["batch_id"] for item in theirs["items"]] == [other]
    nobody = await (await client.get("/v1/batches?user_id=teacher-3")).get_json()
    assert (nobody["items"], nobody["total"]) == ([], 0)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "user_id=",
        "user_id=teacher-1&limit=0",
        "user_id=teacher-1&limit=101",
        "user_id=teacher-1&offset=-1",
        "user_id=teacher-1&offset=99999999999999999999",
        "user_id=teacher-1&limit=ten",
        "user_id=teacher-1&status=awaiting_content",
        "user_id=teacher-1&status=bogus",
    ],
)
async def test_bad_list_queries_are_400(client: QuartClient, query: str) -> None:
    response = await client.get(f"/v1/batches?{query}")
    assert response.status_code == 400
    assert (await response.get_json())["code"] == "validation_error"


async def test_the_openapi_document_describes_the_batch_endpoints(client: QuartClient) -> None:
    document = await (await client.get("/openapi.json")).get_json()
    assert {"/v1/batches", "/v1/batches/{batch_id}"} <= set(document["paths"])
    assert "post" in document["paths"]["/v1/batches"]
