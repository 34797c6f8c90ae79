"""The teacher's status view joined from BOS and ELS (pure): which side the counts come from."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from api_gateway.batch_status import batch_status_view
from api_gateway.clients import BatchEssays, BatchView

from common_core.status import BatchClientStatus


def bos_view(**overrides: Any) -> BatchView:
    values: dict[str, Any] = {
        "batch_id": uuid.uuid4(),
        "user_id": "teacher-1",
        "title": None,
        "course_code": "ENG5",
        "status": "ready",
        "client_status": "ready",
        "expected_essay_count": 2,
        "provisioned_count": 1,
        "failed_count": 1,
        "excess_count": 1,
        "created_at": datetime.now(UTC),
        "updated_at": datetime.now(UTC),
    }
    values.update(overrides)
    return BatchView.model_validate(values)


def test_without_els_the_counts_are_bos_s_and_no_essays_are_invented() -> None:
    batch = bos_view()
    for essays in (
        None,
        BatchEssays(
            batch_id=batch.batch_id, registered=False, essays=[], excess=[], pending_content=2
        ),
    ):
        view = batch_status_view(batch, essays)
        assert view.status is BatchClientStatus.READY
        assert view.counts.model_dump() == {
            "expected": 2,
            "provisioned": 1,
            "failed": 1,
            "excess": 1,
        }
        assert view.essays == []
        assert view.excess_files == []


def test_els_essays_drive_the_counts_once_it_knows_the_batch() -> None:
    batch = bos_view(
        status="awaiting_content",
        client_status="pending_content",
        provisioned_count=0,
        failed_count=0,
        excess_count=0,
    )
    essays = BatchEssays.model_validate(
        {
            "batch_id": str(batch.batch_id),
            "registered": True,
            "expected_essay_count": 2,
            "essays": [
                {
                    "essay_id": str(uuid.uuid4()),
                    "status": "spellchecked",
                    "original_file_name": "a.docx",
                },
                {
                    "essay_id": str(uuid.uuid4()),
                    "status": "validation_failed",
                    "original_file_name": "b.pdf",
                    "failure": {"code": "encrypted_file", "message": "the pdf is encrypted"},
                },
            ],
            "excess": [
                {
                    "file_upload_id": str(uuid.uuid4()),
                    "original_file_name": "c.txt",
                    "text_id": "a" * 64,
                    "failure": None,
                }
            ],
            "pending_content": 0,
        }
    )
    view = batch_status_view(batch, essays)
    assert view.counts.model_dump() == {"expected": 2, "provisioned": 1, "failed": 1, "excess": 1}
    assert [(e.file_name, e.status.value) for e in view.essays] == [
        ("a.docx", "spellchecked"),
        ("b.pdf", "validation_failed"),
    ]
    failure = view.essays[1].failure
    assert failure is not None
    assert failure.code.value == "encrypted_file"
    assert [f.file_name for f in view.excess_files] == ["c.txt"]
