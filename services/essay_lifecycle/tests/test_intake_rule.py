"""The intake-complete rule as a pure function: every slot filled or failed, failures counted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from essay_lifecycle.domain.intake import (
    SlotView,
    completion_events,
    intake_outcome,
    is_intake_complete,
)
from hypothesis import given
from hypothesis import strategies as st

from common_core.errors import ErrorCode
from common_core.status import EssayStatus

INTAKE_STATES = [
    EssayStatus.AWAITING_CONTENT,
    EssayStatus.CONTENT_PROVISIONED,
    EssayStatus.VALIDATION_FAILED,
]
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def slot(status: EssayStatus) -> SlotView:
    failed = status is EssayStatus.VALIDATION_FAILED
    return SlotView(
        essay_id=uuid.uuid4(),
        status=status,
        updated_at=NOW,
        text_id=None if failed or status is EssayStatus.AWAITING_CONTENT else "a" * 64,
        failure_code=ErrorCode.CONTENT_TOO_SHORT if failed else None,
        failure_message="shorter than 50 characters" if failed else None,
    )


@given(st.integers(min_value=1, max_value=30), st.lists(st.sampled_from(INTAKE_STATES)))
def test_complete_exactly_when_every_expected_slot_is_filled_or_failed(expected, statuses) -> None:
    complete = is_intake_complete(expected, statuses)
    assert complete == (len(statuses) == expected and EssayStatus.AWAITING_CONTENT not in statuses)
    outcome = intake_outcome(expected, [slot(s) for s in statuses])
    assert (outcome is not None) == complete


@given(st.lists(st.sampled_from(INTAKE_STATES[1:]), min_size=1, max_size=30))
def test_a_complete_batch_reports_every_slot_once_in_slot_order(statuses) -> None:
    slots = [slot(s) for s in statuses]
    outcome = intake_outcome(len(slots), slots)
    assert outcome is not None
    assert [s for s in slots if s in outcome.ready] == list(outcome.ready)
    assert [s for s in slots if s in outcome.failed] == list(outcome.failed)
    assert len(outcome.ready) + len(outcome.failed) == len(slots)

    batch_id = uuid.uuid4()
    summary, ready = completion_events(batch_id, outcome, service_name="essay_lifecycle")
    assert summary.expected_essay_count == len(slots)
    assert summary.provisioned_count == statuses.count(EssayStatus.CONTENT_PROVISIONED)
    assert summary.failed_count == statuses.count(EssayStatus.VALIDATION_FAILED)
    assert [e.essay_id for e in ready.ready_essays] == [s.essay_id for s in outcome.ready]
    assert [e.essay_id for e in ready.failed_essays] == [s.essay_id for s in outcome.failed]
    for failed in ready.failed_essays:
        assert failed.error.code is ErrorCode.CONTENT_TOO_SHORT
        assert failed.error.message == "shorter than 50 characters"


def test_a_batch_missing_slots_is_not_complete() -> None:
    filled = [slot(EssayStatus.CONTENT_PROVISIONED) for _ in range(2)]
    assert intake_outcome(3, filled) is None
