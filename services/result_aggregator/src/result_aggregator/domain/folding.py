"""How facts arriving in any order fold into statuses, and where rejected files are shown.

Every rule here is commutative enough for out-of-order delivery: a status only moves forward
(a late "ready" never undoes "processing", a late phase command never reopens a finished
phase), and a final per-essay result is never overwritten by a summary that arrives later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from common_core.status import PHASE_ESSAY_STATUSES, BatchStatus, EssayStatus, PhaseName
from result_aggregator.domain.records import EssayRecord, RejectedFile

FINAL_ESSAY_STATUSES = frozenset(
    status for statuses in PHASE_ESSAY_STATUSES.values() for status in statuses.final
)
_COMPLETED = frozenset({BatchStatus.COMPLETED_SUCCESSFULLY, BatchStatus.COMPLETED_WITH_FAILURES})
_FREE = frozenset({None, EssayStatus.AWAITING_CONTENT})


def after_essays_ready(current: BatchStatus, *, usable: bool) -> BatchStatus:
    """Intake ended: ready, or failed when no essay is usable; later statuses stay."""
    if current is not BatchStatus.AWAITING_CONTENT:
        return current
    return BatchStatus.READY if usable else BatchStatus.FAILED


def after_phase_started(current: BatchStatus, *, phase_already_final: bool) -> BatchStatus:
    """A phase command means processing, unless it is a late copy of a finished phase."""
    if phase_already_final or current in (BatchStatus.FAILED, BatchStatus.CANCELLED):
        return current
    return BatchStatus.PROCESSING


def requested(current: EssayStatus | None, phase: PhaseName) -> EssayStatus:
    """An essay entering a phase; an essay already final in it keeps its result."""
    if current is not None and current in FINAL_ESSAY_STATUSES:
        return current
    return PHASE_ESSAY_STATUSES[phase].requested


def latest_status(essay: EssayRecord) -> EssayStatus:
    """The essay's status as the teacher sees it: its latest phase, else its intake."""
    return (
        essay.cj_status
        or essay.spellcheck_status
        or essay.intake_status
        or EssayStatus.AWAITING_CONTENT
    )


def awaiting_details(essay: EssayRecord) -> bool:
    """The phase outcome says the essay passed, but its own result (counts, rank) is not in."""
    return (
        essay.spellcheck_status is EssayStatus.SPELLCHECKED and essay.spellcheck_result_at is None
    ) or (essay.cj_status is EssayStatus.CJ_COMPLETED and essay.cj_rank is None)


def intake_settled(essays: Sequence[EssayRecord], rejected: Sequence[RejectedFile]) -> bool:
    """Every file of a finished intake is in: each filled slot has its file name and each
    failed slot a rejected file to show (those events travel on other topics than ELS's)."""
    slots = [e for e in essays if not e.is_anchor and e.slot_index is not None]
    failed = sum(1 for e in slots if e.intake_status is EssayStatus.VALIDATION_FAILED)
    filled = (e for e in slots if e.intake_status not in _FREE)
    return failed <= len(rejected) and all(
        e.file_name is not None
        for e in filled
        if e.intake_status is not EssayStatus.VALIDATION_FAILED
    )


def visible_batch_status(
    stored: BatchStatus, essays: Sequence[EssayRecord], rejected: Sequence[RejectedFile] = ()
) -> BatchStatus:
    """The status once the view shows everything it implies: `ready` only with every file of
    the intake in, `completed_*` only with every essay's own result (counts, rank) in."""
    if stored is BatchStatus.READY and not intake_settled(essays, rejected):
        return BatchStatus.AWAITING_CONTENT
    if stored in _COMPLETED and any(awaiting_details(e) for e in essays):
        return BatchStatus.PROCESSING
    return stored


@dataclass(frozen=True)
class PlacedSlot:
    """One slot as shown: its essay, the file in it and why that file failed, if it did."""

    essay: EssayRecord
    file_name: str | None
    failure_code: str | None
    failure_message: str | None

    @property
    def status(self) -> EssayStatus:
        if self.failure_code is not None and self.essay.intake_status in _FREE:
            return EssayStatus.VALIDATION_FAILED
        return latest_status(self.essay)


@dataclass(frozen=True)
class Placement:
    slots: list[PlacedSlot]
    excess_failures: list[RejectedFile]


def place_files(
    essays: Sequence[EssayRecord], rejected: Sequence[RejectedFile], *, intake_complete: bool
) -> Placement:
    """Show each rejected file in a slot, as ELS closes a slot per rejected file.

    ELS's events do not say which slot a rejected file closed, only (at the end of intake)
    which slots failed; the slot ids of failed essays carry no text, so rejected files are
    shown in the failed slots in arrival order, and, while intake runs, in free slots. A
    rejected file left over found the batch full: it is shown with the surplus files.
    """
    slots = sorted(
        (e for e in essays if not e.is_anchor and e.slot_index is not None),
        key=lambda e: e.slot_index or 0,
    )
    waiting = list(rejected)
    names: dict[int, RejectedFile] = {}
    for index, essay in enumerate(slots):
        if essay.intake_status is EssayStatus.VALIDATION_FAILED and waiting:
            names[index] = waiting.pop(0)
    if not intake_complete:
        for index, essay in enumerate(slots):
            if index not in names and essay.intake_status in _FREE and essay.file_name is None:
                if not waiting:
                    break
                names[index] = waiting.pop(0)
    placed = []
    for index, essay in enumerate(slots):
        file = names.get(index)
        code = essay.intake_failure_code or (file.reason if file else None)
        message = essay.intake_failure_message or (file.message if file else None)
        placed.append(
            PlacedSlot(
                essay=essay,
                file_name=essay.file_name or (file.file_name if file else None),
                failure_code=code,
                failure_message=message,
            )
        )
    return Placement(slots=placed, excess_failures=waiting)


def student_ranks(essays: Sequence[EssayRecord]) -> dict[object, int]:
    """Rank among student essays (1 = best), from the CJ rank on the scale with anchors."""
    ranked = sorted(
        (e for e in essays if not e.is_anchor and e.cj_rank is not None),
        key=lambda e: e.cj_rank or 0,
    )
    return {e.essay_id: position for position, e in enumerate(ranked, start=1)}
