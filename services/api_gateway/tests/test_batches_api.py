"""Registration, the teacher's list and one batch's status, against stand-in BOS and
result_aggregator served over HTTP: validation, ownership, and upstream failures."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from api_gateway.settings import GatewaySettings
from gateway_harness import bearer, gateway_client, serving  # type: ignore[import-not-found]
from gateway_stand_ins import failing_app  # type: ignore[import-not-found]
from quart.datastructures import FileStorage
from quart.testing import QuartClient

from huleedu_service_libs.local_infra.probes import free_port

pytestmark = pytest.mark.integration


def registration(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "expected_essay_count": 3,
        "course_code": "ENG5",
        "title": "Autumn essays",
        "essay_instructions": "Describe a place you love.",
        "class_id": "9B",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def register(gateway: QuartClient, teacher: str, **overrides: Any) -> dict[str, Any]:
    response = await gateway.post(
        "/v1/batches/register", json=registration(**overrides), headers=bearer(teacher)
    )
    assert response.status_code == 202, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    return body


async def test_registration_goes_to_bos_for_the_token_s_teacher(
    gateway: QuartClient, teacher: str, stand_ins: Any
) -> None:
    correlation_id = uuid.uuid4()
    response = await gateway.post(
        "/v1/batches/register",
        json=registration(),
        headers={**bearer(teacher), "X-Correlation-ID": str(correlation_id)},
    )
    assert response.status_code == 202
    body = await response.get_json()
    assert body["status"] == "pending_content"
    assert body["correlation_id"] == str(correlation_id)
    stored = stand_ins.platform.batches[uuid.UUID(body["batch_id"])]
    assert stored.user_id == teacher
    assert stored.expected_essay_count == 3
    forwarded = [
        r for r in stand_ins.platform.requests_to("batch_orchestrator") if r.method == "POST"
    ][-1]
    assert forwarded.headers["X-Correlation-Id"] == str(correlation_id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (registration(expected_essay_count=0), "expected_essay_count"),
        (registration(expected_essay_count=10_000), "expected_essay_count"),
        (registration(expected_essay_count=501), "expected_essay_count"),
        (registration(expected_essay_count="3"), "expected_essay_count"),
        (registration(course_code=None), "course_code"),
        (registration(course_code="   "), "course_code"),
        (registration(course_code="X" * 33), "course_code"),
    ],
)
async def test_invalid_registrations_are_400_with_the_field_and_never_reach_bos(
    gateway: QuartClient, teacher: str, stand_ins: Any, body: dict[str, Any], field: str
) -> None:
    response = await gateway.post("/v1/batches/register", json=body, headers=bearer(teacher))
    assert response.status_code == 400
    error = await response.get_json()
    assert error["code"] == "validation_error"
    assert error["details"]["source"] == "body"
    assert [e["loc"] for e in error["details"]["errors"]] == [[field]]
    assert not any(b.user_id == teacher for b in stand_ins.platform.batches.values())


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b'{"expected_essay_count": 3, "course_code": ', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"expected_essay_count=3&course_code=ENG5", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
    ],
)
async def test_bodies_that_are_not_a_json_object_are_400_with_a_code(
    gateway: QuartClient, teacher: str, data: bytes, content_type: str
) -> None:
    response = await gateway.post(
        "/v1/batches/register",
        data=data,
        headers={**bearer(teacher), "Content-Type": content_type},
    )
    assert response.status_code == 400
    assert (await response.get_json())["code"] == "validation_error"


async def test_an_oversized_json_body_is_413(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    async with gateway_client(gateway_settings_factory(max_json_body_bytes=1024)) as gateway:
        response = await gateway.post(
            "/v1/batches/register",
            json=registration(essay_instructions="x" * 2000),
            headers=bearer(teacher),
        )
    assert response.status_code == 413
    assert (await response.get_json())["code"] == "payload_too_large"


async def test_status_joins_bos_and_the_read_model_and_shows_each_file_name(
    gateway: QuartClient, teacher: str
) -> None:
    batch_id = (await register(gateway, teacher, expected_essay_count=2))["batch_id"]
    status = await gateway.get(f"/v1/batches/{batch_id}/status", headers=bearer(teacher))
    assert status.status_code == 200
    view = await status.get_json()
    assert view["status"] == "pending_content"
    assert view["title"] == "Autumn essays"
    assert view["course_code"] == "ENG5"
    assert view["counts"] == {"expected": 2, "provisioned": 0, "failed": 0, "excess": 0}
    assert [e["status"] for e in view["essays"]] == ["awaiting_content"] * 2
    assert all(e["file_name"] is None for e in view["essays"])

    upload = await gateway.post(
        "/v1/files/batch",
        headers=bearer(teacher),
        form={"batch_id": batch_id},
        files={"files": _file("empty.txt", b"")},
    )
    assert upload.status_code == 202
    for name in ("anna.txt", "bertil.txt"):
        await gateway.post(
            "/v1/files/batch",
            headers=bearer(teacher),
            form={"batch_id": batch_id},
            files={"files": _file(name, b"An essay about a place I love.")},
        )

    view = await (
        await gateway.get(f"/v1/batches/{batch_id}/status", headers=bearer(teacher))
    ).get_json()
    assert view["status"] == "ready"
    assert view["counts"] == {"expected": 2, "provisioned": 1, "failed": 1, "excess": 1}
    assert [(e["file_name"], e["status"]) for e in view["essays"]] == [
        ("empty.txt", "validation_failed"),
        ("anna.txt", "content_provisioned"),
    ]
    assert view["essays"][0]["failure"]["code"] == "empty_content"
    assert [f["file_name"] for f in view["excess_files"]] == ["bertil.txt"]


async def test_another_teacher_s_batch_is_404_exactly_like_an_unknown_one(
    gateway: QuartClient, teacher: str, stand_ins: Any
) -> None:
    batch_id = (await register(gateway, teacher))["batch_id"]
    intruder = bearer(f"{teacher}-intruder")

    theirs = await gateway.get(f"/v1/batches/{batch_id}/status", headers=intruder)
    unknown = await gateway.get(f"/v1/batches/{uuid.uuid4()}/status", headers=intruder)
    assert theirs.status_code == unknown.status_code == 404
    theirs_body, unknown_body = await theirs.get_json(), await unknown.get_json()
    assert theirs_body["code"] == unknown_body["code"] == "not_found"
    assert theirs_body["message"] == unknown_body["message"]

    uploads_before = len(stand_ins.platform.requests_to("file_service"))
    upload = await gateway.post(
        "/v1/files/batch",
        headers=intruder,
        form={"batch_id": batch_id},
        files={"files": _file("sneaky.txt", b"Not my batch at all, but I try.")},
    )
    assert upload.status_code == 404
    assert (await upload.get_json())["code"] == "not_found"
    assert len(stand_ins.platform.requests_to("file_service")) == uploads_before


async def test_a_malformed_batch_id_in_the_path_is_404(gateway: QuartClient, teacher: str) -> None:
    response = await gateway.get("/v1/batches/not-a-uuid/status", headers=bearer(teacher))
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "not_found"


async def test_the_list_holds_only_the_teacher_s_batches_newest_first_with_pages(
    gateway: QuartClient, teacher: str
) -> None:
    ids = [(await register(gateway, teacher, title=f"batch {i}"))["batch_id"] for i in range(3)]
    await register(gateway, f"{teacher}-colleague")

    first = await (await gateway.get("/v1/batches?limit=2", headers=bearer(teacher))).get_json()
    assert first["total"] == 3
    assert (first["limit"], first["offset"]) == (2, 0)
    assert [b["batch_id"] for b in first["items"]] == ids[::-1][:2]
    assert first["items"][0]["status"] == "pending_content"
    assert "user_id" not in first["items"][0]

    second = await gateway.get("/v1/batches?limit=2&offset=2", headers=bearer(teacher))
    assert [b["batch_id"] for b in (await second.get_json())["items"]] == [ids[0]]

    ready = await gateway.get("/v1/batches?status=ready", headers=bearer(teacher))
    assert (await ready.get_json())["items"] == []


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "status=sideways"])
async def test_invalid_list_queries_are_400(gateway: QuartClient, teacher: str, query: str) -> None:
    response = await gateway.get(f"/v1/batches?{query}", headers=bearer(teacher))
    assert response.status_code == 400
    body = await response.get_json()
    assert body["code"] == "validation_error"
    assert body["details"]["source"] == "query"


async def test_an_unreachable_upstream_is_503_service_unavailable(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    settings = gateway_settings_factory(batch_orchestrator_url=closed, result_aggregator_url=closed)
    async with gateway_client(settings) as gateway:
        responses = [
            (
                await gateway.post(
                    "/v1/batches/register", json=registration(), headers=bearer(teacher)
                ),
                "batch_orchestrator",
            ),
            (await gateway.get("/v1/batches", headers=bearer(teacher)), "result_aggregator"),
            (
                await gateway.get(f"/v1/batches/{uuid.uuid4()}/status", headers=bearer(teacher)),
                "batch_orchestrator",
            ),
        ]
    for response, upstream in responses:
        assert response.status_code == 503
        body = await response.get_json()
        assert body["code"] == "service_unavailable"
        assert upstream in body["message"]


async def test_the_read_model_failing_makes_the_status_503_not_500(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    async with serving(failing_app(500)) as broken_ras:
        settings = gateway_settings_factory(result_aggregator_url=broken_ras)
        async with gateway_client(settings) as gateway:
            batch_id = (await register(gateway, teacher))["batch_id"]
            response = await gateway.get(f"/v1/batches/{batch_id}/status", headers=bearer(teacher))
    assert response.status_code == 503
    assert (await response.get_json())["code"] == "service_unavailable"


async def test_an_upstream_breaking_its_contract_is_a_gateway_error_not_a_crash(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    async with serving(failing_app(200)) as odd_ras:
        settings = gateway_settings_factory(result_aggregator_url=odd_ras)
        async with gateway_client(settings) as gateway:
            response = await gateway.get("/v1/batches", headers=bearer(teacher))
    assert response.status_code == 502
    assert (await response.get_json())["code"] == "service_unavailable"


async def test_a_slow_upstream_is_504_timeout(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str
) -> None:
    async with serving(failing_app(200, delay_s=2.0)) as slow_ras:
        settings = gateway_settings_factory(
            result_aggregator_url=slow_ras, upstream_timeout_seconds=0.2
        )
        async with gateway_client(settings) as gateway:
            response = await gateway.get("/v1/batches", headers=bearer(teacher))
    assert response.status_code == 504
    assert (await response.get_json())["code"] == "timeout"


async def test_unknown_routes_are_json_404s(gateway: QuartClient, teacher: str) -> None:
    response = await gateway.get("/v1/nothing-here", headers=bearer(teacher))
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "not_found"


def _file(name: str, data: bytes) -> FileStorage:
    return FileStorage(BytesIO(data), filename=name, content_type="text/plain")
