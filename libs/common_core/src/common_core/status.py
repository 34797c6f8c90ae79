"""Lifecycle enums shared by services, contracts and database schemas.

These enums are the source of truth: database enum types are generated from them and a drift
test compares the two, so a value is added here first and migrated second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class BatchStatus(StrEnum):
    """A batch's lifecycle as the batch orchestrator (BOS) owns it.

    `completed_*` batches may run a further pipeline; `failed` and `cancelled` are terminal.
    """

    AWAITING_CONTENT = "awaiting_content"
    READY = "ready"
    PROCESSING = "processing"
    COMPLETED_SUCCESSFULLY = "completed_successfully"
    COMPLETED_WITH_FAILURES = "completed_with_failures"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """No further pipeline may start: the batch is finished for good."""
        return self in {BatchStatus.FAILED, BatchStatus.CANCELLED}


class BatchClientStatus(StrEnum):
    """The batch status a teacher sees (gateway, result aggregator)."""

    PENDING_CONTENT = "pending_content"
    READY = "ready"
    PROCESSING = "processing"
    COMPLETED_SUCCESSFULLY = "completed_successfully"
    COMPLETED_WITH_FAILURES = "completed_with_failures"
    FAILED = "failed"
    CANCELLED = "cancelled"


CLIENT_STATUS_FOR: Mapping[BatchStatus, BatchClientStatus] = MappingProxyType(
    {
        BatchStatus.AWAITING_CONTENT: BatchClientStatus.PENDING_CONTENT,
        BatchStatus.READY: BatchClientStatus.READY,
        BatchStatus.PROCESSING: BatchClientStatus.PROCESSING,
        BatchStatus.COMPLETED_SUCCESSFULLY: BatchClientStatus.COMPLETED_SUCCESSFULLY,
        BatchStatus.COMPLETED_WITH_FAILURES: BatchClientStatus.COMPLETED_WITH_FAILURES,
        BatchStatus.FAILED: BatchClientStatus.FAILED,
        BatchStatus.CANCELLED: BatchClientStatus.CANCELLED,
    }
)
"""How an internal batch status is shown to the teacher; one mapping so views never disagree."""


class PhaseName(StrEnum):
    """A processing phase; a client pipeline request names the last phase it wants."""

    SPELLCHECK = "spellcheck"
    CJ_ASSESSMENT = "cj_assessment"


class PhaseStatus(StrEnum):
    """One phase of one batch, as BOS tracks it."""

    PENDING = "pending"
    DISPATCHED = "dispatched"
    COMPLETED = "completed"
    COMPLETED_WITH_FAILURES = "completed_with_failures"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        """The phase will not change any more (its outcome arrived or it was skipped)."""
        return self not in {PhaseStatus.PENDING, PhaseStatus.DISPATCHED}


class EssayStatus(StrEnum):
    """One essay slot's state machine in the essay lifecycle service (ELS).

    A slot exists from registration (`awaiting_content`), gets content or a validation
    failure, becomes `ready_for_processing` when the batch's content is complete, and then
    moves through one `<phase>_requested` state and one final state per phase.
    """

    AWAITING_CONTENT = "awaiting_content"
    CONTENT_PROVISIONED = "content_provisioned"
    VALIDATION_FAILED = "validation_failed"
    READY_FOR_PROCESSING = "ready_for_processing"
    SPELLCHECK_REQUESTED = "spellcheck_requested"
    SPELLCHECKED = "spellchecked"
    SPELLCHECK_FAILED = "spellcheck_failed"
    CJ_REQUESTED = "cj_requested"
    CJ_COMPLETED = "cj_completed"
    CJ_FAILED = "cj_failed"


@dataclass(frozen=True)
class PhaseEssayStatuses:
    """The essay states one phase moves an essay through."""

    requested: EssayStatus
    succeeded: EssayStatus
    failed: EssayStatus

    @property
    def final(self) -> frozenset[EssayStatus]:
        """States in which the essay counts as done for the phase outcome."""
        return frozenset({self.succeeded, self.failed})


PHASE_ESSAY_STATUSES: Mapping[PhaseName, PhaseEssayStatuses] = MappingProxyType(
    {
        PhaseName.SPELLCHECK: PhaseEssayStatuses(
            requested=EssayStatus.SPELLCHECK_REQUESTED,
            succeeded=EssayStatus.SPELLCHECKED,
            failed=EssayStatus.SPELLCHECK_FAILED,
        ),
        PhaseName.CJ_ASSESSMENT: PhaseEssayStatuses(
            requested=EssayStatus.CJ_REQUESTED,
            succeeded=EssayStatus.CJ_COMPLETED,
            failed=EssayStatus.CJ_FAILED,
        ),
    }
)
"""Per phase, the essay states ELS uses; ELS decides "is the phase complete?" from these."""
