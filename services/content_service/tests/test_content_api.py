"""content_service against a real database: idempotent storage by content hash."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from content_service.models import metadata
from content_service.service import DEFINITION
from content_service.settings import ContentSettings
from quart.testing import QuartClient

from huleedu_service_libs.testing.schema_drift import check_migrations_match_models
from huleedu_service_libs.testing.services import http_test_client

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(settings_factory, database_url: str) -> AsyncIterator[QuartClient]:
    settings = settings_factory(
        "content_service",
        database_url=database_url,
        settings_class=ContentSettings,
        max_content_bytes=1024,
    )
    async with http_test_client(DEFINITION, settings) as test_client:
        yield test_client


async def test_migrations_match_models(database_url: str) -> None:
    await check_migrations_match_models(database_url, DEFINITION.migrations_path, metadata)


async def test_identical_bytes_get_the_same_id_and_come_back_intact(
    client: QuartClient,
) -> None:
    text = "Två studenter kan lämna in samma text.".encode()
    first = await client.post(
        "/v1/content", data=text, headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    second = await client.post("/v1/content", data=text, headers={"Content-Type": "text/plain"})
    assert first.status_code == second.status_code == 201
    body = await first.get_json()
    assert body["content_id"] == hashlib.sha256(text).hexdigest()
    assert (await second.get_json())["content_id"] == body["content_id"]

    fetched = await client.get(f"/v1/content/{body['content_id']}")
    assert fetched.status_code == 200
    assert await fetched.get_data() == text
    assert fetched.mimetype == "text/plain"


async def test_unknown_or_malformed_ids_are_404_with_a_code(client: QuartClient) -> None:
    for path in ("/v1/content/" + "0" * 64, "/v1/content/not-a-hash"):
        response = await client.get(path)
        assert response.status_code == 404
        assert (await response.get_json())["code"] == "not_found"


async def test_empty_and_oversized_content_are_rejected(client: QuartClient) -> None:
    empty = await client.post("/v1/content", data=b"")
    assert empty.status_code == 400
    assert (await empty.get_json())["code"] == "validation_error"
    large = await client.post("/v1/content", data=b"x" * 1025)
    assert large.status_code == 413
    assert (await large.get_json())["code"] == "payload_too_large"
