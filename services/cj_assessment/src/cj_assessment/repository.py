"""Reads and writes of cj_assessment's tables inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cj_assessment.domain.stopping import CJBatchStatus
from cj_assessment.grade_scales import GradeScaleName
from cj_assessment.models import (
    ComparisonState,
    anchors,
    assignments,
    cj_batches,
    cj_comparisons,
    cj_items,
    cj_refits,
)


@dataclass(frozen=True)
class BatchRow:
    batch_id: UUID
    status: CJBatchStatus
    correlation_id: UUID
    essay_instructions: str
    grade_scale: GradeScaleName | None
    comparison_budget: int
    wave: int
    deadline_at: datetime
    finalised_at: datetime | None


@dataclass(frozen=True)
class ItemRow:
    item_index: int
    essay_id: UUID
    text_id: str
    is_anchor: bool
    anchor_grade: str | None


@dataclass(frozen=True)
class ComparisonRow:
    request_id: UUID
    batch_id: UUID
    wave: int
    a_index: int
    b_index: int
    attempt: int
    state: ComparisonState
    winner_index: int | None
    judge: str | None


@dataclass(frozen=True)
class ShownComparison:
    """A comparison with the essays its request showed, to check a result against."""

    comparison: ComparisonRow
    essay_ids: tuple[UUID | None, UUID | None]  # (A, B); None only if an item is missing


@dataclass(frozen=True)
class AssignmentRow:
    assignment_id: str
    owner_user_id: str
    grade_scale: GradeScaleName


@dataclass(frozen=True)
class AnchorRow:
    anchor_id: UUID
    assignment_id: str
    grade: str
    label: str
    text_id: str


def _batch(row: Any) -> BatchRow:
    return BatchRow(**{name: row[name] for name in BatchRow.__dataclass_fields__})


def _comparison(row: Any) -> ComparisonRow:
    return ComparisonRow(**{name: row[name] for name in ComparisonRow.__dataclass_fields__})


# The two reads of every result, built once: their compiled form is cached by identity.
_LOCK_BATCH_OF_REQUEST = (
    select(cj_batches)
    .where(
        cj_batches.c.batch_id
        == select(cj_comparisons.c.batch_id)
        .where(cj_comparisons.c.request_id == bindparam("request_id"))
        .scalar_subquery()
    )
    .with_for_update()
)
_ITEM_A, _ITEM_B = cj_items.alias("item_a"), cj_items.alias("item_b")
_SHOWN_COMPARISON = (
    select(
        cj_comparisons,
        _ITEM_A.c.essay_id.label("essay_a_id"),
        _ITEM_B.c.essay_id.label("essay_b_id"),
    )
    .outerjoin(
        _ITEM_A,
        (_ITEM_A.c.batch_id == cj_comparisons.c.batch_id)
        & (_ITEM_A.c.item_index == cj_comparisons.c.a_index),
    )
    .outerjoin(
        _ITEM_B,
        (_ITEM_B.c.batch_id == cj_comparisons.c.batch_id)
        & (_ITEM_B.c.item_index == cj_comparisons.c.b_index),
    )
    .where(cj_comparisons.c.request_id == bindparam("request_id"))
)


class CJRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # Batches -------------------------------------------------------------------------------

    async def insert_batch(self, **values: Any) -> bool:
        """False when the batch already exists (a redelivered request)."""
        result = await self._session.execute(
            pg_insert(cj_batches)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[cj_batches.c.batch_id])
            .returning(cj_batches.c.batch_id)
        )
        return result.scalar_one_or_none() is not None

    async def lock_batch(self, batch_id: UUID) -> BatchRow | None:
        row = (
            (
                await self._session.execute(
                    select(cj_batches).where(cj_batches.c.batch_id == batch_id).with_for_update()
                )
            )
            .mappings()
            .one_or_none()
        )
        return None if row is None else _batch(row)

    async def lock_batch_of(self, request_id: UUID) -> BatchRow | None:
        """The batch a comparison request belongs to, locked; None for an unknown request."""
        result = await self._session.execute(_LOCK_BATCH_OF_REQUEST, {"request_id": request_id})
        row = result.mappings().one_or_none()
        return None if row is None else _batch(row)

    async def update_batch(self, batch_id: UUID, **values: Any) -> None:
        await self._session.execute(
            update(cj_batches)
            .where(cj_batches.c.batch_id == batch_id)
            .values(updated_at=func.now(), **values)
        )

    async def overdue_batch_ids(self) -> list[UUID]:
        rows = await self._session.execute(
            select(cj_batches.c.batch_id)
            .where(cj_batches.c.finalised_at.is_(None), cj_batches.c.deadline_at < func.now())
            .order_by(cj_batches.c.deadline_at)
        )
        return list(rows.scalars())

    # Items ---------------------------------------------------------------------------------

    async def insert_items(self, batch_id: UUID, items: Sequence[ItemRow]) -> None:
        await self._session.execute(
            insert(cj_items),
            [
                {
                    "batch_id": batch_id,
                    "item_index": item.item_index,
                    "essay_id": item.essay_id,
                    "text_id": item.text_id,
                    "is_anchor": item.is_anchor,
                    "anchor_grade": item.anchor_grade,
                }
                for item in items
            ],
        )

    async def items(self, batch_id: UUID) -> list[ItemRow]:
        rows = await self._session.execute(
            select(
                cj_items.c.item_index,
                cj_items.c.essay_id,
                cj_items.c.text_id,
                cj_items.c.is_anchor,
                cj_items.c.anchor_grade,
            )
            .where(cj_items.c.batch_id == batch_id)
            .order_by(cj_items.c.item_index)
        )
        return [ItemRow(**row) for row in rows.mappings()]

    async def store_placements(self, batch_id: UUID, placements: Sequence[dict[str, Any]]) -> None:
        """Final rank, score, SE, count and grade per item (`item_index` in each mapping)."""
        for placement in placements:
            values = {k: v for k, v in placement.items() if k != "item_index"}
            await self._session.execute(
                update(cj_items)
                .where(
                    cj_items.c.batch_id == batch_id,
                    cj_items.c.item_index == placement["item_index"],
                )
                .values(**values)
            )

    # Comparisons ---------------------------------------------------------------------------

    async def insert_comparisons(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self._session.execute(insert(cj_comparisons), list(rows))

    async def shown_comparison(self, request_id: UUID) -> ShownComparison | None:
        """A comparison with the essay ids of its pair, in the order they were shown."""
        result = await self._session.execute(_SHOWN_COMPARISON, {"request_id": request_id})
        row = result.mappings().one_or_none()
        if row is None:
            return None
        return ShownComparison(_comparison(row), (row["essay_a_id"], row["essay_b_id"]))

    async def answer_comparison(
        self,
        request_id: UUID,
        state: ComparisonState,
        *,
        winner_index: int | None = None,
        judge: str | None = None,
        error_code: str | None = None,
    ) -> None:
        await self._session.execute(
            update(cj_comparisons)
            .where(cj_comparisons.c.request_id == request_id)
            .values(
                state=state,
                winner_index=winner_index,
                judge=judge,
                error_code=error_code,
                answered_at=func.now(),
            )
        )

    async def comparisons(self, batch_id: UUID) -> list[ComparisonRow]:
        rows = await self._session.execute(
            select(cj_comparisons)
            .where(cj_comparisons.c.batch_id == batch_id)
            .order_by(cj_comparisons.c.requested_at, cj_comparisons.c.request_id)
        )
        return [_comparison(row) for row in rows.mappings()]

    async def outstanding(self, batch_id: UUID) -> int:
        result = await self._session.execute(
            select(func.count())
            .select_from(cj_comparisons)
            .where(
                cj_comparisons.c.batch_id == batch_id,
                cj_comparisons.c.state == ComparisonState.REQUESTED,
            )
        )
        return int(result.scalar_one())

    async def abandon_outstanding(self, batch_id: UUID) -> int:
        result = await self._session.execute(
            update(cj_comparisons)
            .where(
                cj_comparisons.c.batch_id == batch_id,
                cj_comparisons.c.state == ComparisonState.REQUESTED,
            )
            .values(state=ComparisonState.ABANDONED)
            .returning(cj_comparisons.c.request_id)
        )
        return len(result.all())

    # Refits --------------------------------------------------------------------------------

    async def record_refit(
        self, batch_id: UUID, wave: int, valid_comparisons: int, scores: list[float]
    ) -> None:
        await self._session.execute(
            pg_insert(cj_refits)
            .values(
                batch_id=batch_id, wave=wave, valid_comparisons=valid_comparisons, scores=scores
            )
            .on_conflict_do_nothing(index_elements=[cj_refits.c.batch_id, cj_refits.c.wave])
        )

    async def score_history(self, batch_id: UUID) -> list[list[float]]:
        rows = await self._session.execute(
            select(cj_refits.c.scores)
            .where(cj_refits.c.batch_id == batch_id)
            .order_by(cj_refits.c.wave)
        )
        return [list(scores) for scores in rows.scalars()]

    # Anchors -------------------------------------------------------------------------------

    async def assignment(self, assignment_id: str, *, lock: bool = False) -> AssignmentRow | None:
        statement = select(
            assignments.c.assignment_id, assignments.c.owner_user_id, assignments.c.grade_scale
        ).where(assignments.c.assignment_id == assignment_id)
        if lock:
            statement = statement.with_for_update()
        row = (await self._session.execute(statement)).mappings().one_or_none()
        return None if row is None else AssignmentRow(**row)

    async def claim_assignment(
        self, assignment_id: str, owner_user_id: str, grade_scale: GradeScaleName
    ) -> AssignmentRow:
        """The assignment's row, locked; created for this teacher and scale if it is new."""
        await self._session.execute(
            pg_insert(assignments)
            .values(
                assignment_id=assignment_id, owner_user_id=owner_user_id, grade_scale=grade_scale
            )
            .on_conflict_do_nothing(index_elements=[assignments.c.assignment_id])
        )
        row = await self.assignment(assignment_id, lock=True)
        if row is None:  # pragma: no cover - the row was just inserted or already there
            raise LookupError(assignment_id)
        return row

    async def insert_anchor(self, anchor: AnchorRow) -> None:
        await self._session.execute(insert(anchors).values(**asdict(anchor)))

    async def anchors(self, assignment_id: str) -> list[AnchorRow]:
        rows = await self._session.execute(
            select(
                anchors.c.anchor_id,
                anchors.c.assignment_id,
                anchors.c.grade,
                anchors.c.label,
                anchors.c.text_id,
            )
            .where(anchors.c.assignment_id == assignment_id)
            .order_by(anchors.c.created_at, anchors.c.anchor_id)
        )
        return [AnchorRow(**row) for row in rows.mappings()]
