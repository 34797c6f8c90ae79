"""Anchor essays through the gateway: the teacher from the token goes to cj_assessment (stand-in
served over HTTP) as X-User-ID, requests are validated first, its refusals reach the teacher."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from gateway_harness import bearer  # type: ignore[import-not-found]
from quart.testing import QuartClient

pytestmark = pytest.mark.integration


def anchor(grade: str = "B", scale: str = "swedish_f_a") -> dict[str, Any]:
    return {"grade_scale": scale, "grade": grade, "label": f"Anchor {grade}", "text": "An essay."}


async def test_anchors_are_registered_and_listed_for_the_token_s_teacher(
    gateway: QuartClient, teacher: str, stand_ins: Any
) -> None:
    path = f"/v1/assignments/a-{uuid.uuid4().hex[:8]}/anchors"
    for grade in ("A", "C"):
        response = await gateway.post(path, json=anchor(grade), headers=bearer(teacher))
        assert response.status_code == 201, await response.get_data()
        assert (await response.get_json())["grade"] == grade
    forwarded = stand_ins.platform.requests_to("cj_assessment")[-1]
    assert forwarded.headers["X-User-Id"] == teacher

    listed = await gateway.get(path, headers=bearer(teacher))
    body = await listed.get_json()
    assert (body["grade_scale"], [a["grade"] for a in body["anchors"]]) == (
        "swedish_f_a",
        ["A", "C"],
    )


async def test_refusals_and_bad_requests(gateway: QuartClient, teacher: str) -> None:
    path = f"/v1/assignments/a-{uuid.uuid4().hex[:8]}/anchors"
    assert (await gateway.post(path, json=anchor())).status_code == 401
    invalid = await gateway.post(
        path, json={**anchor(), "grade_scale": "stanine"}, headers=bearer(teacher)
    )
    assert invalid.status_code == 400
    assert (await gateway.post(path, json=anchor(), headers=bearer(teacher))).status_code == 201

    other_scale = await gateway.post(path, json=anchor("C", "eng5_np"), headers=bearer(teacher))
    assert other_scale.status_code == 409
    assert (await other_scale.get_json())["code"] == "conflict"
    stranger = await gateway.get(path, headers=bearer(f"{teacher}-other"))
    assert stranger.status_code == 403
