"""The teacher's view of one batch: BOS's status joined with ELS's essays (pure, no I/O).

BOS's counts change only when intake completes, while ELS sees every file land in its slot;
once ELS knows the batch, the counts come from its essays so the teacher watches them grow.
"""

from __future__ import annotations

from api_gateway.clients import BatchEssays, BatchView
from api_gateway.clients.essay_lifecycle import EssayFailureView
from api_gateway.models import (
    BatchStatusView,
    EssayCounts,
    EssayFailure,
    EssayPhase,
    EssayState,
    ExcessFile,
)
from common_core.status import EssayStatus

_WITHOUT_CONTENT = frozenset({EssayStatus.AWAITING_CONTENT, EssayStatus.VALIDATION_FAILED})


def batch_status_view(batch: BatchView, essays: BatchEssays | None) -> BatchStatusView:
    if essays is None or not essays.registered:
        counts = EssayCounts(
            expected=batch.expected_essay_count,
            provisioned=batch.provisioned_count,
            failed=batch.failed_count,
            excess=batch.excess_count,
        )
        states: list[EssayState] = []
    else:
        states = [
            EssayState(
                essay_id=essay.essay_id,
                file_name=essay.original_file_name,
                status=essay.status,
                failure=_failure(essay.failure),
                phases=[
                    EssayPhase(
                        phase=phase.phase,
                        status=phase.status,
                        text_id=phase.text_id,
                        failure=_failure(phase.failure),
                        details=phase.details,
                    )
                    for phase in essay.phases
                ],
            )
            for essay in essays.essays
        ]
        counts = EssayCounts(
            expected=batch.expected_essay_count,
            provisioned=sum(1 for e in essays.essays if e.status not in _WITHOUT_CONTENT),
            failed=sum(1 for e in essays.essays if e.status == EssayStatus.VALIDATION_FAILED),
            excess=max(len(essays.excess), batch.excess_count),
        )
    excess_files = (
        [
            ExcessFile(
                file_upload_id=item.file_upload_id,
                file_name=item.original_file_name,
                failure=_failure(item.failure),
            )
            for item in essays.excess
        ]
        if essays is not None
        else []
    )
    return BatchStatusView(
        batch_id=batch.batch_id,
        status=batch.client_status,
        title=batch.title,
        course_code=batch.course_code,
        counts=counts,
        essays=states,
        excess_files=excess_files,
    )


def _failure(failure: EssayFailureView | None) -> EssayFailure | None:
    return None if failure is None else EssayFailure(code=failure.code, message=failure.message)
