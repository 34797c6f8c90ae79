"""Results (JSON and CSV), an essay's texts and the progress log through the gateway, against
stand-in result_aggregator and content_service served over HTTP."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from api_gateway.settings import GatewaySettings
from gateway_harness import bearer, gateway_client  # type: ignore[import-not-found]
from quart.testing import QuartClient

from common_core.status import BatchStatus, EssayStatus
from huleedu_service_libs.local_infra.probes import free_port

pytestmark = pytest.mark.integration


def content_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def ranked_batch(gateway: QuartClient, teacher: str, stand_ins: Any) -> UUID:
    """A batch of two spellchecked, ranked essays (`b.txt` best) in the stand-ins' state."""
    response = await gateway.post(
        "/v1/batches/register",
        json={"expected_essay_count": 2, "course_code": "ENG5"},
        headers=bearer(teacher),
    )
    batch_id = UUID((await response.get_json())["batch_id"])
    batch = stand_ins.platform.batches[batch_id]
    batch.status = BatchStatus.COMPLETED_SUCCESSFULLY
    for slot, (name, rank, grade) in zip(
        batch.slots, [("a.txt", 2, "C"), ("b.txt", 1, "A")], strict=True
    ):
        original, corrected = f"Teh essay {name}", f"The essay {name}"
        slot.status, slot.file_name, slot.rank, slot.grade = (
            EssayStatus.CJ_COMPLETED,
            name,
            rank,
            grade,
        )
        slot.text_id, slot.corrected_text_id = content_id(original), content_id(corrected)
        slot.corrections = [
            {"start": 0, "end": 3, "original": "Teh", "corrected": "The", "category": "spelling"}
        ]
        stand_ins.platform.contents[slot.text_id] = original
        stand_ins.platform.contents[slot.corrected_text_id] = corrected
    return batch_id


async def test_results_as_json_and_as_csv_with_a_file_name(
    gateway: QuartClient, teacher: str, stand_ins: Any
) -> None:
    batch_id = await ranked_batch(gateway, teacher, stand_ins)
    as_json = await gateway.get(f"/v1/batches/{batch_id}/results", headers=bearer(teacher))
    assert as_json.status_code == 200
    body = await as_json.get_json()
    assert body["status"] == "completed_successfully"
    assert sorted((e["file_name"], e["rank"], e["grade"]) for e in body["essays"]) == [
        ("a.txt", 2, "C"),
        ("b.txt", 1, "A"),
    ]
    forwarded = stand_ins.platform.requests_to("result_aggregator")[-1]
    assert {k.lower(): v for k, v in forwarded.headers.items()}["x-user-id"] == teacher

    as_csv = await gateway.get(
        f"/v1/batches/{batch_id}/results", headers={**bearer(teacher), "Accept": "text/csv"}
    )
    assert as_csv.status_code == 200
    assert as_csv.content_type.startswith("text/csv")
    assert f"r-{batch_id}.csv" in as_csv.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await as_csv.get_data(as_text=True))))
    assert [(r["rank"], r["file_name"]) for r in rows] == [("1", "b.txt"), ("2", "a.txt")]


async def test_an_essay_s_texts_come_from_content_service_with_its_corrections(
    gateway: QuartClient, teacher: str, stand_ins: Any
) -> None:
    batch_id = await ranked_batch(gateway, teacher, stand_ins)
    slot = stand_ins.platform.batches[batch_id].slots[0]
    response = await gateway.get(
        f"/v1/batches/{batch_id}/essays/{slot.essay_id}/text", headers=bearer(teacher)
    )
    assert response.status_code == 200
    assert await response.get_json() == {
        "essay_id": str(slot.essay_id),
        "file_name": "a.txt",
        "original_text": "Teh essay a.txt",
        "corrected_text": "The essay a.txt",
        "corrections": [
            {"start": 0, "end": 3, "original": "Teh", "corrected": "The", "category": "spelling"}
        ],
    }

    slot.corrected_text_id = None  # not spellchecked (yet): no corrected text
    waiting = await gateway.get(
        f"/v1/batches/{batch_id}/essays/{slot.essay_id}/text", headers=bearer(teacher)
    )
    assert (await waiting.get_json())["corrected_text"] is None

    unknown = await gateway.get(
        f"/v1/batches/{batch_id}/essays/{uuid.uuid4()}/text", headers=bearer(teacher)
    )
    assert unknown.status_code == 404


async def test_another_teacher_gets_404_on_every_read(
    gateway: QuartClient, teacher: str, stand_ins: Any
) -> None:
    batch_id = await ranked_batch(gateway, teacher, stand_ins)
    slot = stand_ins.platform.batches[batch_id].slots[0]
    intruder = bearer(f"{teacher}-intruder")
    for path in (
        f"/v1/batches/{batch_id}/results",
        f"/v1/batches/{batch_id}/essays/{slot.essay_id}/text",
        f"/v1/batches/{batch_id}/progress",
    ):
        response = await gateway.get(path, headers=intruder)
        assert response.status_code == 404, path
        assert (await response.get_json())["code"] == "not_found"


async def test_progress_is_read_from_the_log_and_bad_cursors_are_400(
    gateway: QuartClient, teacher: str, stand_ins: Any
) -> None:
    batch_id = await ranked_batch(gateway, teacher, stand_ins)
    response = await gateway.get(
        f"/v1/batches/{batch_id}/progress?after=3", headers=bearer(teacher)
    )
    assert response.status_code == 200
    assert await response.get_json() == {"events": []}
    assert "after=3" in stand_ins.platform.requests_to("result_aggregator")[-1].path
    bad = await gateway.get(f"/v1/batches/{batch_id}/progress?after=-1", headers=bearer(teacher))
    assert bad.status_code == 400


async def test_content_service_down_makes_the_text_503(
    gateway_settings_factory: Callable[..., GatewaySettings], teacher: str, stand_ins: Any
) -> None:
    settings = gateway_settings_factory(content_service_url=f"http://127.0.0.1:{free_port()}")
    async with gateway_client(settings) as gateway:
        batch_id = await ranked_batch(gateway, teacher, stand_ins)
        slot = stand_ins.platform.batches[batch_id].slots[0]
        response = await gateway.get(
            f"/v1/batches/{batch_id}/essays/{slot.essay_id}/text", headers=bearer(teacher)
        )
    assert response.status_code == 503
    assert (await response.get_json())["code"] == "service_unavailable"
