"""The internal HTTP API on the real app and database: ownership, list, status, results (JSON
and CSV), one essay, and the progress log."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from result_aggregator.service import DEFINITION

from huleedu_service_libs.testing.services import http_test_client

from .conftest import TEACHER, Ras, story

pytestmark = pytest.mark.integration

AS_TEACHER = {"X-User-ID": TEACHER}


async def test_reads_are_the_teachers_own_and_bad_requests_are_refused(ras: Ras) -> None:
    told = story(pipeline=False)
    for event in told.events:
        await ras.handle(event)
    placeholder = story()  # only a result: RAS knows the batch but not its owner
    await ras.handle(placeholder.events[-1])

    async with http_test_client(DEFINITION, ras.settings) as client:
        base = f"/v1/batches/{told.batch_id}"
        assert (await client.get(base, headers=AS_TEACHER)).status_code == 200
        for path in (base, f"{base}/results", f"{base}/progress"):
            stranger = await client.get(path, headers={"X-User-ID": "someone-else"})
            assert stranger.status_code == 404
            assert (await stranger.get_json())["code"] == "not_found"
        unowned = await client.get(f"/v1/batches/{placeholder.batch_id}", headers=AS_TEACHER)
        assert unowned.status_code == 404
        unknown = await client.get(f"/v1/batches/{uuid.uuid4()}", headers=AS_TEACHER)
        assert unknown.status_code == 404
        anonymous = await client.get(base)
        assert anonymous.status_code == 400
        assert (await anonymous.get_json())["code"] == "validation_error"
        bad_query = await client.get(f"{base}/progress?after=-1", headers=AS_TEACHER)
        assert bad_query.status_code == 400
        no_essay = await client.get(f"{base}/essays/{uuid.uuid4()}", headers=AS_TEACHER)
        assert no_essay.status_code == 404
        documented = await (await client.get("/openapi.json")).get_json()
        assert {
            "/v1/batches",
            "/v1/batches/{batch_id}",
            "/v1/batches/{batch_id}/results",
            "/v1/batches/{batch_id}/essays/{essay_id}",
            "/v1/batches/{batch_id}/progress",
        } <= set(documented["paths"])


async def test_list_status_results_csv_essay_and_progress(ras: Ras) -> None:
    older = story(pipeline=False)
    told = story(start=60)
    for event in [*older.events, *told.events, *story("teacher-2").events[:1]]:
        await ras.handle(event)

    async with http_test_client(DEFINITION, ras.settings) as client:
        listed = await (await client.get("/v1/batches", headers=AS_TEACHER)).get_json()
        assert listed["total"] == 2
        assert [b["batch_id"] for b in listed["items"]] == [str(told.batch_id), str(older.batch_id)]
        newest = listed["items"][0]
        assert (newest["status"], newest["course_code"]) == ("completed_with_failures", "ENG5")
        assert (newest["title"], newest["class_id"]) == ("The sea", "9B")
        assert (newest["provisioned_count"], newest["failed_count"], newest["excess_count"]) == (
            3,
            1,
            1,
        )
        ready_only = await client.get("/v1/batches?status=ready&limit=1", headers=AS_TEACHER)
        assert [b["batch_id"] for b in (await ready_only.get_json())["items"]] == [
            str(older.batch_id)
        ]

        base = f"/v1/batches/{told.batch_id}"
        status = await (await client.get(base, headers=AS_TEACHER)).get_json()
        assert status["status"] == "completed_with_failures"
        assert len(status["essays"]) == 4

        results = await (await client.get(f"{base}/results", headers=AS_TEACHER)).get_json()
        assert [e["file_name"] for e in results["essays"]] == ["a.txt", "b.txt", "bad.pdf", "c.txt"]
        assert results["anchors"][0]["grade"] == "A"

        as_csv = await client.get(f"{base}/results", headers={**AS_TEACHER, "Accept": "text/csv"})
        assert as_csv.status_code == 200
        assert as_csv.content_type.startswith("text/csv")
        assert f"huleedu-results-{told.batch_id}.csv" in as_csv.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(await as_csv.get_data(as_text=True))))
        assert [(r["rank"], r["file_name"], r["grade"]) for r in rows] == [
            ("1", "a.txt", "B"),
            ("2", "b.txt", "C"),
            ("", "bad.pdf", ""),
            ("", "c.txt", ""),
        ]

        essay_id = told.essay_ids[0]
        essay = await (await client.get(f"{base}/essays/{essay_id}", headers=AS_TEACHER)).get_json()
        assert essay["file_name"] == "b.txt"
        assert [c["original"] for c in essay["corrections"]] == ["Teh", "becouse"]
        anchor = await client.get(f"{base}/essays/{told.anchor_id}", headers=AS_TEACHER)
        assert anchor.status_code == 404

        first = await client.get(f"{base}/progress?limit=5", headers=AS_TEACHER)
        page = (await first.get_json())["events"]
        assert [e["seq"] for e in page] == [1, 2, 3, 4, 5]
        rest = await client.get(f"{base}/progress?after=5", headers=AS_TEACHER)
        seqs = [e["seq"] for e in (await rest.get_json())["events"]]
        assert seqs == list(range(6, len(told.events) + 1))
