"""Queries over BOS's tables within the caller's transaction (a UnitOfWork's session)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from batch_orchestrator.models import batch_essays, batches, excess_uploads
from common_core.events.base import EssayTextRef, FailedEssay
from common_core.status import BatchStatus


@dataclass(frozen=True)
class NewBatch:
    """A batch as the teacher registers it, with its derived language."""

    batch_id: UUID
    user_id: str
    course_code: str
    language: str
    expected_essay_count: int
    essay_instructions: str
    title: str | None = None
    class_id: str | None = None
    assignment_id: str | None = None


@dataclass(frozen=True)
class BatchRecord:
    batch_id: UUID
    user_id: str
    title: str | None
    course_code: str
    language: str
    class_id: str | None
    assignment_id: str | None
    essay_instructions: str
    expected_essay_count: int
    status: BatchStatus
    provisioned_count: int
    failed_count: int
    excess_count: int
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class BatchPage:
    items: list[BatchRecord]
    total: int


def _record(row: Any) -> BatchRecord:
    return BatchRecord(**{column.name: row[column.name] for column in batches.columns})


class BatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, batch: NewBatch, essay_ids: Sequence[UUID]) -> None:
        """The batch row and one essay id per slot, in slot order."""
        await self._session.execute(
            insert(batches).values(
                batch_id=batch.batch_id,
                user_id=batch.user_id,
                title=batch.title,
                course_code=batch.course_code,
                language=batch.language,
                class_id=batch.class_id,
                assignment_id=batch.assignment_id,
                essay_instructions=batch.essay_instructions,
                expected_essay_count=batch.expected_essay_count,
                status=BatchStatus.AWAITING_CONTENT,
            )
        )
        await self._session.execute(
            insert(batch_essays),
            [
                {"batch_id": batch.batch_id, "essay_id": essay_id, "slot_index": index}
                for index, essay_id in enumerate(essay_ids)
            ],
        )

    async def get(self, batch_id: UUID) -> BatchRecord | None:
        row = (
            (await self._session.execute(select(batches).where(batches.c.batch_id == batch_id)))
            .mappings()
            .one_or_none()
        )
        return None if row is None else _record(row)

    async def lock(self, batch_id: UUID) -> BatchRecord | None:
        """The batch under a row lock held until the transaction ends (invariant 4)."""
        row = (
            (
                await self._session.execute(
                    select(batches).where(batches.c.batch_id == batch_id).with_for_update()
                )
            )
            .mappings()
            .one_or_none()
        )
        return None if row is None else _record(row)

    async def list_for_user(
        self,
        user_id: str,
        *,
        statuses: Collection[BatchStatus] | None,
        limit: int,
        offset: int,
    ) -> BatchPage:
        """A teacher's batches, newest first; `total` counts every match, not just the page."""
        condition = batches.c.user_id == user_id
        if statuses is not None:
            condition = condition & batches.c.status.in_(list(statuses))
        rows = (
            await self._session.execute(
                select(batches)
                .where(condition)
                .order_by(batches.c.created_at.desc(), batches.c.batch_id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        items = [_record(row) for row in rows]
        total = (
            await self._session.execute(select(func.count()).select_from(batches).where(condition))
        ).scalar_one()
        return BatchPage(items=items, total=int(total))

    async def essay_ids(self, batch_id: UUID) -> list[UUID]:
        """The batch's essay ids in slot order."""
        result = await self._session.execute(
            select(batch_essays.c.essay_id)
            .where(batch_essays.c.batch_id == batch_id)
            .order_by(batch_essays.c.slot_index)
        )
        return list(result.scalars())

    async def set_status(
        self, batch_id: UUID, status: BatchStatus, *, failure_reason: str | None = None
    ) -> None:
        await self._session.execute(
            update(batches)
            .where(batches.c.batch_id == batch_id)
            .values(status=status, failure_reason=failure_reason, updated_at=func.now())
        )

    async def set_intake_counts(self, batch_id: UUID, *, provisioned: int, failed: int) -> None:
        await self._session.execute(
            update(batches)
            .where(batches.c.batch_id == batch_id)
            .values(provisioned_count=provisioned, failed_count=failed, updated_at=func.now())
        )

    async def record_essay_outcomes(
        self, batch_id: UUID, ready: Sequence[EssayTextRef], failed: Sequence[FailedEssay]
    ) -> None:
        """Each ready essay's text and each failed slot's reason (essays of this batch only)."""
        outcomes = [
            {"b_essay_id": essay.essay_id, "b_text_id": essay.text_id, "b_failure": None}
            for essay in ready
        ] + [
            {
                "b_essay_id": essay.essay_id,
                "b_text_id": None,
                "b_failure": essay.error.model_dump(mode="json"),
            }
            for essay in failed
        ]
        if not outcomes:
            return
        await self._session.execute(
            update(batch_essays)
            .where(
                batch_essays.c.batch_id == batch_id,
                batch_essays.c.essay_id == bindparam("b_essay_id"),
            )
            .values(text_id=bindparam("b_text_id"), failure=bindparam("b_failure")),
            outcomes,
        )

    async def exists(self, batch_id: UUID) -> bool:
        found = await self._session.execute(
            select(batches.c.batch_id).where(batches.c.batch_id == batch_id)
        )
        return found.first() is not None

    async def count_excess_upload(self, batch_id: UUID, file_upload_id: UUID) -> bool:
        """Count a surplus upload once: True if this upload was not counted before."""
        inserted = await self._session.execute(
            pg_insert(excess_uploads)
            .values(file_upload_id=file_upload_id, batch_id=batch_id)
            .on_conflict_do_nothing(index_elements=[excess_uploads.c.file_upload_id])
            .returning(excess_uploads.c.file_upload_id)
        )
        if inserted.first() is None:
            return False
        await self._session.execute(
            update(batches)
            .where(batches.c.batch_id == batch_id)
            .values(excess_count=batches.c.excess_count + 1, updated_at=func.now())
        )
        return True
