"""The teacher's view of one batch: result_aggregator's read model, gated by BOS (pure, no I/O).

RAS (the read model) gives the essays, counts and surplus files. BOS owns the batch's
lifecycle and answers at once after registration, so it decides ownership, and the status
shown is the less advanced of the two: a teacher who sees `ready` can start a pipeline
(BOS agrees) and sees every essay of it (RAS has folded intake); one who sees
`completed_*` sees every result. Until RAS has heard of the batch, BOS's counts are shown.
"""

from __future__ import annotations

from api_gateway.clients import BatchView
from common_core.read_model import BatchStatusView, EssayCounts
from common_core.status import BatchClientStatus

_PROGRESS = {
    BatchClientStatus.PENDING_CONTENT: 0,
    BatchClientStatus.READY: 1,
    BatchClientStatus.PROCESSING: 2,
    BatchClientStatus.COMPLETED_SUCCESSFULLY: 3,
    BatchClientStatus.COMPLETED_WITH_FAILURES: 3,
    BatchClientStatus.FAILED: 3,
    BatchClientStatus.CANCELLED: 3,
}


def agreed_status(owner: BatchClientStatus, read_model: BatchClientStatus) -> BatchClientStatus:
    """The status both BOS (`owner`) and RAS (`read_model`) have reached; BOS's on a tie."""
    return read_model if _PROGRESS[read_model] < _PROGRESS[owner] else owner


def batch_status_view(batch: BatchView, read_model: BatchStatusView | None) -> BatchStatusView:
    if read_model is None:
        return BatchStatusView(
            batch_id=batch.batch_id,
            # Without RAS's essays nothing beyond "content is arriving" can be shown.
            status=agreed_status(batch.client_status, BatchClientStatus.PENDING_CONTENT),
            title=batch.title,
            course_code=batch.course_code,
            counts=EssayCounts(
                expected=batch.expected_essay_count,
                provisioned=batch.provisioned_count,
                failed=batch.failed_count,
                excess=batch.excess_count,
            ),
            essays=[],
            excess_files=[],
        )
    return read_model.model_copy(
        update={
            "status": agreed_status(batch.client_status, read_model.status),
            "title": batch.title,
            "course_code": batch.course_code,
        }
    )
