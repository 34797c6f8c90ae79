"""The app factory: health, readiness, metrics, JSON errors, correlation ids, OpenAPI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest
import redis.asyncio as aioredis
import structlog
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field
from quart import Blueprint, Quart
from quart_schema import validate_request, validate_response

from common_core.errors import ErrorCode, ErrorDetail
from huleedu_service_libs.database import create_engine
from huleedu_service_libs.http import (
    CORRELATION_ID_HEADER,
    HttpError,
    ReadinessCheck,
    create_app,
    current_correlation_id,
    kafka_check,
    postgres_check,
    redis_check,
)
from huleedu_service_libs.logging import parse_traceparent

pytestmark = pytest.mark.integration

SERVICE = "items_service"


class CreateItem(BaseModel):
    name: str = Field(min_length=1)
    quantity: int = Field(ge=1)


class Item(BaseModel):
    id: UUID
    name: str
    quantity: int
    correlation_id: UUID


def items_blueprint() -> Blueprint:
    blueprint = Blueprint("items", __name__)

    @blueprint.post("/items")
    @validate_request(CreateItem)
    @validate_response(Item, 201)
    async def create_item(data: CreateItem) -> tuple[Item, int]:
        item = Item(
            id=uuid4(),
            name=data.name,
            quantity=data.quantity,
            correlation_id=current_correlation_id(),
        )
        return item, 201

    @blueprint.get("/items/<int:item_id>")
    async def get_item(item_id: int) -> dict[str, Any]:
        if item_id >= 1000:
            raise HttpError(404, ErrorCode.NOT_FOUND, "no such item", {"item_id": item_id})
        return {"id": item_id}

    @blueprint.get("/boom")
    async def boom() -> dict[str, Any]:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    @blueprint.get("/context")
    async def context() -> dict[str, Any]:
        return dict(structlog.contextvars.get_contextvars())

    return blueprint


def make_app(settings_factory, registry: CollectorRegistry, checks=()) -> Quart:
    return create_app(
        settings_factory(SERVICE),
        title="Items",
        version="2.3.4",
        readiness_checks=checks,
        blueprints=[items_blueprint()],
        registry=registry,
    )


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def app(settings_factory, registry: CollectorRegistry) -> Quart:
    return make_app(settings_factory, registry)


def error_of(body: Any) -> ErrorDetail:
    return ErrorDetail.model_validate(body)


async def test_live_answers_while_serving(app: Quart) -> None:
    response = await app.test_client().get("/healthz/live")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "live"}


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Any]:
    engine = create_engine(database_url, pool_size=1)
    yield engine
    await engine.dispose()


async def test_ready_when_every_dependency_answers(
    settings_factory, registry, engine, redis_client, infra
) -> None:
    checks = [
        postgres_check(engine),
        redis_check(redis_client),
        kafka_check(infra.kafka_bootstrap_servers, timeout=10),
    ]
    app = make_app(settings_factory, registry, checks)

    response = await app.test_client().get("/healthz/ready")

    assert response.status_code == 200
    assert await response.get_json() == {
        "status": "ready",
        "checks": {"postgres": "ok", "redis": "ok", "kafka": "ok"},
    }


async def test_not_ready_names_the_dependency_that_failed(
    settings_factory, registry, engine
) -> None:
    unreachable = aioredis.from_url("redis://127.0.0.1:1/0")
    try:
        app = make_app(
            settings_factory, registry, [postgres_check(engine), redis_check(unreachable)]
        )
        response = await app.test_client().get("/healthz/ready")
    finally:
        await unreachable.aclose()

    assert response.status_code == 503
    body = await response.get_json()
    assert body["status"] == "not_ready"
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["redis"].startswith("failed: ")


async def test_unreachable_kafka_is_not_ready(settings_factory, registry) -> None:
    app = make_app(settings_factory, registry, [kafka_check("127.0.0.1:1", timeout=5)])
    response = await app.test_client().get("/healthz/ready")
    assert response.status_code == 503
    assert (await response.get_json())["checks"]["kafka"].startswith("failed: ")


async def test_a_check_that_hangs_fails_on_its_timeout(settings_factory, registry) -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    app = make_app(settings_factory, registry, [ReadinessCheck("slow", hang, timeout=0.05)])
    response = await app.test_client().get("/healthz/ready")
    assert response.status_code == 503
    assert (await response.get_json())["checks"] == {"slow": "failed: timeout"}


async def test_requests_are_counted_by_route_rule(app: Quart, registry) -> None:
    client = app.test_client()
    for item_id in (1, 2, 3):
        assert (await client.get(f"/items/{item_id}")).status_code == 200
    await client.get("/nowhere/at/all")

    labels = {"service": SERVICE, "method": "GET", "route": "/items/<int:item_id>"}
    assert (
        registry.get_sample_value("huleedu_http_requests_total", {**labels, "status": "200"}) == 3
    )
    assert registry.get_sample_value("huleedu_http_request_duration_seconds_count", labels) == 3
    unmatched = {"service": SERVICE, "method": "GET", "route": "<unmatched>", "status": "404"}
    assert registry.get_sample_value("huleedu_http_requests_total", unmatched) == 1

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = await response.get_data(as_text=True)
    assert (
        'huleedu_http_requests_total{method="GET",route="/items/<int:item_id>",'
        'service="items_service",status="200"} 3.0'
    ) in text


async def test_two_apps_on_one_registry_share_the_metrics(settings_factory, registry) -> None:
    first = make_app(settings_factory, registry)
    second = make_app(settings_factory, registry)
    await first.test_client().get("/items/1")
    await second.test_client().get("/items/1")
    labels = {"service": SERVICE, "method": "GET", "route": "/items/<int:item_id>"}
    assert (
        registry.get_sample_value("huleedu_http_requests_total", {**labels, "status": "200"}) == 2
    )


async def test_every_error_detail_sent_is_counted_by_code_and_status(
    app: Quart, registry: CollectorRegistry
) -> None:
    client = app.test_client()
    assert (await client.get("/items/1")).status_code == 200
    assert (await client.get("/items/1000")).status_code == 404
    assert (await client.get("/no/such/thing")).status_code == 404
    assert (await client.post("/items", json={"name": "", "quantity": 0})).status_code == 400
    assert (await client.get("/boom")).status_code == 500

    def errors(code: str, status: str) -> float | None:
        return registry.get_sample_value(
            "huleedu_http_errors_total", {"service": SERVICE, "code": code, "status": status}
        )

    assert errors("not_found", "404") == 2
    assert errors("validation_error", "400") == 1
    assert errors("internal_error", "500") == 1
    counted = [
        sample
        for family in registry.collect()
        if family.name == "huleedu_http_errors"
        for sample in family.samples
        if sample.name == "huleedu_http_errors_total"
    ]
    assert sum(sample.value for sample in counted) == 4


async def test_unknown_route_is_an_error_detail(app: Quart) -> None:
    response = await app.test_client().get("/no/such/thing")
    assert response.status_code == 404
    error = error_of(await response.get_json())
    assert error.code is ErrorCode.NOT_FOUND
    assert error.service == SERVICE
    assert "/no/such/thing" in error.message
    assert str(error.correlation_id) == response.headers[CORRELATION_ID_HEADER]


async def test_wrong_method_is_an_error_detail_with_the_allowed_ones(app: Quart) -> None:
    response = await app.test_client().delete("/items/5")
    assert response.status_code == 405
    error = error_of(await response.get_json())
    assert error.code is ErrorCode.NOT_FOUND
    assert "GET" in error.details["allowed_methods"]


async def test_invalid_body_is_a_validation_error_with_field_errors(app: Quart) -> None:
    response = await app.test_client().post("/items", json={"name": "", "quantity": 0})
    assert response.status_code == 400
    error = error_of(await response.get_json())
    assert error.code is ErrorCode.VALIDATION_ERROR
    assert error.operation == "items.create_item"
    assert error.details["source"] == "body"
    fields = {tuple(e["loc"]) for e in error.details["errors"]}
    assert fields == {("name",), ("quantity",)}
    assert all("input" not in e for e in error.details["errors"])


async def test_body_that_is_not_an_object_is_a_validation_error(app: Quart) -> None:
    response = await app.test_client().post(
        "/items", data="not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(await response.get_json()).code is ErrorCode.VALIDATION_ERROR


async def test_body_that_is_not_utf8_is_a_validation_error(app: Quart) -> None:
    response = await app.test_client().post(
        "/items", data=b'{"name": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert (await response.get_json())["code"] == "validation_error"


async def test_http_error_keeps_its_status_code_and_details(app: Quart) -> None:
    response = await app.test_client().get("/items/1234")
    assert response.status_code == 404
    error = error_of(await response.get_json())
    assert error.code is ErrorCode.NOT_FOUND
    assert error.message == "no such item"
    assert error.details == {"item_id": 1234}
    assert error.operation == "items.get_item"


async def test_unhandled_exception_is_500_without_the_traceback(app: Quart) -> None:
    response = await app.test_client().get("/boom")
    assert response.status_code == 500
    raw = await response.get_data(as_text=True)
    assert "hunter2" not in raw
    assert "Traceback" not in raw
    assert "RuntimeError" not in raw
    error = error_of(await response.get_json())
    assert error.code is ErrorCode.INTERNAL_ERROR
    assert error.message == "internal server error"


async def test_given_correlation_id_is_used_and_returned(app: Quart) -> None:
    correlation_id = uuid4()
    response = await app.test_client().post(
        "/items",
        json={"name": "pen", "quantity": 2},
        headers={CORRELATION_ID_HEADER: str(correlation_id)},
    )
    assert response.status_code == 201
    assert response.headers[CORRELATION_ID_HEADER] == str(correlation_id)
    assert Item.model_validate(await response.get_json()).correlation_id == correlation_id


async def test_missing_or_malformed_correlation_id_is_generated(app: Quart) -> None:
    client = app.test_client()
    for headers in ({}, {CORRELATION_ID_HEADER: "not-a-uuid"}):
        response = await client.post("/items", json={"name": "pen", "quantity": 1}, headers=headers)
        generated = UUID(response.headers[CORRELATION_ID_HEADER])
        assert generated.version == 4
        assert Item.model_validate(await response.get_json()).correlation_id == generated


async def test_request_binds_correlation_and_trace_for_logs(app: Quart) -> None:
    correlation_id = uuid4()
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = await app.test_client().get(
        "/context", headers={CORRELATION_ID_HEADER: str(correlation_id), "traceparent": traceparent}
    )
    bound = await response.get_json()
    assert bound["correlation_id"] == str(correlation_id)
    assert bound["trace_id"] == "0af7651916cd43dd8448eb211c80319c"

    untraced = await (await app.test_client().get("/context")).get_json()
    assert parse_traceparent(f"00-{untraced['trace_id']}-{untraced['span_id']}-01") is not None


async def test_openapi_describes_request_and_response_models(app: Quart) -> None:
    response = await app.test_client().get("/openapi.json")
    assert response.status_code == 200
    document = await response.get_json()

    assert document["info"] == {"title": "Items", "version": "2.3.4"}
    operation = document["paths"]["/items"]["post"]
    request_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    response_schema = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert request_schema["properties"]["name"]["minLength"] == 1
    assert request_schema["required"] == ["name", "quantity"]
    assert set(response_schema["properties"]) == {"id", "name", "quantity", "correlation_id"}
    assert not any(path.startswith("/healthz") or path == "/metrics" for path in document["paths"])


async def test_no_docs_ui_is_served(app: Quart) -> None:
    for path in ("/docs", "/redocs", "/scalar"):
        assert (await app.test_client().get(path)).status_code == 404
