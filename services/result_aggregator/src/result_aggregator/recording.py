"""One handler's changes: the read model under the batch lock, and the progress they make.

Progress kinds (the `kind` of `common_core.progress.ProgressEvent`):

| kind | when | data |
|---|---|---|
| `batch.registered` | the batch's slots exist | `expected_essay_count` |
| `file.accepted` | a file's text fills a slot | `essay_id`, `file_name` |
| `file.rejected` | a file failed validation | `file_upload_id`, `file_name`, `code`, `message` |
| `file.excess` | a valid file found every slot taken | `file_upload_id`, `file_name` |
| `intake.completed` | every slot is filled or failed | `provisioned`, `failed` |
| `batch.ready` | intake over: ready (or failed, nothing usable) | `status`, `ready`, `failed` |
| `phase.started` | a phase began | `phase`, `essay_count` |
| `essay.spellchecked` | one essay corrected | `essay_id`, `total_corrections`, `error_counts` |
| `essay.failed` | one essay failed a phase | `essay_id`, `phase`, `code`, `message` |
| `phase.completed` | every essay of a phase is final | `phase`, `status`, `succeeded`, `failed` |
| `cj.ranked` | ranks, scores and grades are in | `essays`, `anchors`, `comparisons` |
| `cj.failed` | the batch could not be ranked | `code`, `message` |
| `pipeline.completed` | the requested pipeline ended | `pipeline`, `status` |
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis

from common_core.progress import ProgressEvent
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.logging import get_logger
from huleedu_service_libs.progress import announce
from result_aggregator.domain.records import BatchRecord
from result_aggregator.metrics import PROGRESS_ANNOUNCE_FAILED_TOTAL, PROGRESS_RECORDED_TOTAL
from result_aggregator.repository import ReadModel

_log = get_logger(__name__)


class ProgressKind(StrEnum):
    BATCH_REGISTERED = "batch.registered"
    FILE_ACCEPTED = "file.accepted"
    FILE_REJECTED = "file.rejected"
    FILE_EXCESS = "file.excess"
    INTAKE_COMPLETED = "intake.completed"
    BATCH_READY = "batch.ready"
    PHASE_STARTED = "phase.started"
    ESSAY_SPELLCHECKED = "essay.spellchecked"
    ESSAY_FAILED = "essay.failed"
    PHASE_COMPLETED = "phase.completed"
    CJ_RANKED = "cj.ranked"
    CJ_FAILED = "cj.failed"
    PIPELINE_COMPLETED = "pipeline.completed"


class ProgressAnnouncer:
    """Publishes recorded progress on Redis for the gateways' live streams."""

    def __init__(self, redis: aioredis.Redis, namespace: str) -> None:
        self._redis = redis
        self._namespace = namespace

    async def announce(self, event: ProgressEvent) -> None:
        try:
            await announce(self._redis, self._namespace, event)
        except Exception:
            PROGRESS_ANNOUNCE_FAILED_TOTAL.inc()
            _log.warning("progress_announce_failed", batch_id=str(event.batch_id), seq=event.seq)


class BatchChange:
    """The changes one event makes to one batch, with its row locked for the transaction."""

    def __init__(self, uow: UnitOfWork, announcer: ProgressAnnouncer) -> None:
        self._uow = uow
        self._announcer = announcer
        self.model = ReadModel(uow.session)

    async def lock(self, batch_id: UUID) -> BatchRecord:
        return await self.model.lock_batch(batch_id)

    async def record(self, batch_id: UUID, kind: ProgressKind, **data: Any) -> None:
        """Append to the batch's progress log; announce it once the transaction commits."""
        event = await self.model.append_progress(batch_id, kind.value, data)

        async def announce_committed() -> None:
            PROGRESS_RECORDED_TOTAL.labels(kind=kind.value).inc()
            await self._announcer.announce(event)

        self._uow.after_commit(announce_committed)
