"""The teacher's status view (pure): the read model's essays, gated by BOS's lifecycle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from api_gateway.batch_status import agreed_status, batch_status_view
from api_gateway.clients import BatchView
from hypothesis import given
from hypothesis import strategies as st

from common_core.read_model import BatchStatusView
from common_core.status import BatchClientStatus


def bos_view(**overrides: Any) -> BatchView:
    values: dict[str, Any] = {
        "batch_id": uuid.uuid4(),
        "user_id": "teacher-1",
        "title": "Autumn",
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


def read_model(batch: BatchView, status: str) -> BatchStatusView:
    return BatchStatusView.model_validate(
        {
            "batch_id": str(batch.batch_id),
            "status": status,
            "title": None,
            "course_code": "ENG5",
            "counts": {"expected": 2, "provisioned": 1, "failed": 1, "excess": 0},
            "essays": [
                {
                    "essay_id": str(uuid.uuid4()),
                    "file_name": "a.docx",
                    "status": "spellchecked",
                    "failure": None,
                },
                {
                    "essay_id": str(uuid.uuid4()),
                    "file_name": "b.pdf",
                    "status": "validation_failed",
                    "failure": {"code": "encrypted_file", "message": "the pdf is encrypted"},
                },
            ],
            "excess_files": [],
        }
    )


def test_before_the_read_model_knows_the_batch_bos_s_counts_are_shown() -> None:
    batch = bos_view()
    view = batch_status_view(batch, None)
    assert view.status is BatchClientStatus.PENDING_CONTENT  # no essays to show as ready
    assert view.counts.model_dump() == {"expected": 2, "provisioned": 1, "failed": 1, "excess": 1}
    assert view.essays == []
    assert view.title == "Autumn"


def test_the_read_model_gives_essays_and_counts_and_bos_the_title() -> None:
    batch = bos_view()
    view = batch_status_view(batch, read_model(batch, "ready"))
    assert [e.file_name for e in view.essays] == ["a.docx", "b.pdf"]
    assert view.counts.excess == 0
    assert view.title == "Autumn"


def test_ready_is_shown_only_once_both_agree() -> None:
    """Ready means BOS accepts a pipeline and the read model has every essay of the batch."""
    early_bos = bos_view(status="awaiting_content", client_status="pending_content")
    assert batch_status_view(early_bos, read_model(early_bos, "ready")).status == "pending_content"
    behind_ras = bos_view()
    assert batch_status_view(behind_ras, read_model(behind_ras, "pending_content")).status == (
        "pending_content"
    )
    finished = bos_view(status="completed_successfully", client_status="completed_successfully")
    assert batch_status_view(finished, read_model(finished, "processing")).status == "processing"


@given(st.sampled_from(list(BatchClientStatus)), st.sampled_from(list(BatchClientStatus)))
def test_the_agreed_status_is_one_of_the_two_and_bos_s_when_they_agree(
    owner: BatchClientStatus, read: BatchClientStatus
) -> None:
    assert agreed_status(owner, read) in (owner, read)
    assert agreed_status(owner, owner) == owner
    # The less advanced side wins whichever side it is; on the same level, BOS's wins.
    swapped = agreed_status(read, owner)
    assert agreed_status(owner, read) == swapped or {agreed_status(owner, read), swapped} == {
        owner,
        read,
    }
