"""The anchors API through the real app, with texts stored in a real content_service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cj_assessment.service import DEFINITION
from cj_assessment.settings import CJAssessmentSettings
from quart.testing import QuartClient

from huleedu_service_libs.testing.services import closed_port_url, http_test_client

pytestmark = pytest.mark.integration

TEACHER = {"X-User-ID": "teacher-1"}
TEXT = "The lighthouse stood alone on the rocks, and every evening its keeper climbed the stairs."


def anchor(grade: str = "B", scale: str = "swedish_f_a", text: str = TEXT) -> dict[str, Any]:
    return {"grade_scale": scale, "grade": grade, "label": f"Anchor {grade}", "text": text}


@pytest.fixture
async def client(
    cj_settings: CJAssessmentSettings, content_service_url: str
) -> AsyncIterator[QuartClient]:
    settings = cj_settings.model_copy(update={"content_service_url": content_service_url})
    async with http_test_client(DEFINITION, settings) as test_client:
        yield test_client


async def test_register_and_list_anchors(client: QuartClient, content_service_url: str) -> None:
    path = f"/v1/assignments/{uuid.uuid4().hex}/anchors"
    empty = await client.get(path, headers=TEACHER)
    assert empty.status_code == 200
    assert (await empty.get_json())["anchors"] == []

    created = await client.post(path, json=anchor("B"), headers=TEACHER)
    assert created.status_code == 201
    body = await created.get_json()
    assert {k: body[k] for k in ("grade_scale", "grade", "label")} == {
        "grade_scale": "swedish_f_a",
        "grade": "B",
        "label": "Anchor B",
    }
    async with httpx.AsyncClient(base_url=content_service_url) as content:
        stored = await content.get(f"/v1/content/{body['text_id']}")
    assert stored.text == TEXT
    await client.post(path, json=anchor("E", text=TEXT + " Short."), headers=TEACHER)

    listed = await (await client.get(path, headers=TEACHER)).get_json()
    assert listed["grade_scale"] == "swedish_f_a"
    assert [a["grade"] for a in listed["anchors"]] == ["B", "E"]
    assert listed["anchors"][0] == body


async def test_anchor_errors_have_codes(client: QuartClient) -> None:
    path = f"/v1/assignments/{uuid.uuid4().hex}/anchors"
    missing_user = await client.post(path, json=anchor())
    assert missing_user.status_code == 401
    assert (await missing_user.get_json())["code"] == "unauthorized"
    assert (await client.get(path)).status_code == 401

    unknown = await client.post(path, json=anchor("B+"), headers=TEACHER)
    assert unknown.status_code == 400
    error = await unknown.get_json()
    assert error["code"] == "unknown_grade"
    assert "A" in error["details"]["grades"]

    assert (await client.post(path, json=anchor("A"), headers=TEACHER)).status_code == 201
    other_scale = await client.post(path, json=anchor("C+", scale="eng5_np"), headers=TEACHER)
    assert other_scale.status_code == 409
    assert (await other_scale.get_json())["code"] == "conflict"

    stranger = {"X-User-ID": "teacher-2"}
    assert (await client.post(path, json=anchor("C"), headers=stranger)).status_code == 403
    assert (await client.get(path, headers=stranger)).status_code == 403

    bad_scale = await client.post(path, json=anchor(scale="letters"), headers=TEACHER)
    assert bad_scale.status_code in (400, 422)


async def test_content_service_outage_is_503(cj_settings: CJAssessmentSettings) -> None:
    settings = cj_settings.model_copy(update={"content_service_url": closed_port_url()})
    async with http_test_client(DEFINITION, settings) as client:
        path = f"/v1/assignments/{uuid.uuid4().hex}/anchors"
        response = await client.post(path, json=anchor(), headers=TEACHER)
        assert response.status_code == 503
        listed = await (await client.get(path, headers=TEACHER)).get_json()
        assert listed["anchors"] == []
