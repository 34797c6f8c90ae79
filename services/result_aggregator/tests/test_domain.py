"""Pure rules: file placement, status folding and the CSV table."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from result_aggregator.domain.csv_export import CSV_COLUMNS, results_csv
from result_aggregator.domain.folding import (
    after_essays_ready,
    after_phase_started,
    place_files,
    requested,
)
from result_aggregator.domain.records import EssayRecord, RejectedFile

from common_core.read_model import BatchResults, EssayResult, PipelineTimings
from common_core.status import BatchStatus, EssayStatus, PhaseName

BATCH = uuid.uuid4()
INTAKE = [
    EssayStatus.AWAITING_CONTENT,
    EssayStatus.CONTENT_PROVISIONED,
    EssayStatus.VALIDATION_FAILED,
    EssayStatus.READY_FOR_PROCESSING,
]


def slot(index: int, status: EssayStatus) -> EssayRecord:
    filled = status in (EssayStatus.CONTENT_PROVISIONED, EssayStatus.READY_FOR_PROCESSING)
    return EssayRecord(
        essay_id=uuid.uuid4(),
        batch_id=BATCH,
        slot_index=index,
        intake_status=status,
        file_name=f"essay-{index}.txt" if filled else None,
        file_upload_id=uuid.uuid4() if filled else None,
    )


def rejected(n: int) -> RejectedFile:
    return RejectedFile(
        file_upload_id=uuid.uuid4(),
        batch_id=BATCH,
        file_name=f"bad-{n}.pdf",
        reason="corrupted_file",
        message="broken",
        arrival=n,
    )


@given(
    statuses=st.lists(st.sampled_from(INTAKE), max_size=8),
    rejected_count=st.integers(0, 6),
    intake_complete=st.booleans(),
)
def test_every_rejected_file_is_shown_once_and_never_over_a_filled_slot(
    statuses: list[EssayStatus], rejected_count: int, intake_complete: bool
) -> None:
    slots = [slot(i, s) for i, s in enumerate(statuses)]
    files = [rejected(n) for n in range(rejected_count)]
    placement = place_files(slots, files, intake_complete=intake_complete)

    assert [p.essay.essay_id for p in placement.slots] == [s.essay_id for s in slots]
    shown = [p.file_name for p in placement.slots if p.file_name and p.file_name.startswith("bad")]
    shown += [f.file_name for f in placement.excess_failures]
    assert sorted(shown) == sorted(f.file_name for f in files)
    for placed in placement.slots:
        if placed.essay.file_upload_id is not None:
            assert placed.file_name == placed.essay.file_name
            assert placed.failure_code is None


@given(st.sampled_from(list(BatchStatus)), st.booleans(), st.booleans())
def test_status_moves_only_forward(status: BatchStatus, usable: bool, final: bool) -> None:
    ready = after_essays_ready(status, usable=usable)
    assert ready == status or status is BatchStatus.AWAITING_CONTENT
    started = after_phase_started(status, phase_already_final=final)
    assert started in (status, BatchStatus.PROCESSING)
    if final or status in (BatchStatus.FAILED, BatchStatus.CANCELLED):
        assert started == status


@given(st.sampled_from([None, *EssayStatus]), st.sampled_from(list(PhaseName)))
def test_a_final_essay_is_never_reopened_by_a_late_command(
    current: EssayStatus | None, phase: PhaseName
) -> None:
    finals = {
        EssayStatus.SPELLCHECKED,
        EssayStatus.SPELLCHECK_FAILED,
        EssayStatus.CJ_COMPLETED,
        EssayStatus.CJ_FAILED,
    }
    assert (requested(current, phase) == current) == (
        current in finals or current == requested(None, phase)
    )


@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.integers(1, 50)), st.text(max_size=12)),
        max_size=10,
    )
)
def test_csv_has_a_header_and_one_row_per_essay_best_first(
    rows: list[tuple[int | None, str]],
) -> None:
    results = BatchResults(
        batch_id=BATCH,
        status="completed_successfully",
        title=None,
        course_code="ENG5",
        timings=PipelineTimings(),
        essays=[
            EssayResult(
                essay_id=uuid.uuid4(),
                file_name=name,
                status=EssayStatus.CJ_COMPLETED,
                rank=rank,
            )
            for rank, name in rows
        ],
        anchors=[],
        excess_files=[],
    )
    table = list(csv.reader(io.StringIO(results_csv(results), newline="")))
    assert tuple(table[0]) == CSV_COLUMNS
    assert len(table) == len(rows) + 1
    ranks = [int(r[0]) if r[0] else None for r in table[1:]]
    ranked = [r for r in ranks if r is not None]
    assert ranked == sorted(ranked)
    assert ranks[len(ranked) :] == [None] * (len(ranks) - len(ranked))


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    results = BatchResults(
        batch_id=BATCH,
        status="completed_successfully",
        title=None,
        course_code="ENG5",
        timings=PipelineTimings(started_at=datetime.now(UTC)),
        essays=[
            EssayResult(essay_id=uuid.uuid4(), file_name="=HYPERLINK(1)", status="cj_completed")
        ],
        anchors=[],
        excess_files=[],
    )
    [_, row] = list(csv.reader(io.StringIO(results_csv(results))))
    assert row[1] == "'=HYPERLINK(1)"
