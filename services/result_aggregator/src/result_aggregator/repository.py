"""Reads and upserts of the read model; every writer first takes its batch's row lock.

Holding the batch row lock for the whole transaction serialises the changes of one batch
across workers, which is what lets a change read an essay, decide, and write it back, and
what makes progress `seq` numbers gapless (a rolled-back transaction gives its numbers back).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, Uuid, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from common_core.progress import ProgressEvent
from common_core.status import CLIENT_STATUS_FOR, BatchClientStatus, BatchStatus, PhaseName
from result_aggregator.domain.records import (
    BatchFacts,
    BatchRecord,
    EssayRecord,
    ExcessFileRecord,
    PhaseRecord,
    RejectedFile,
)
from result_aggregator.models import (
    batch_phases,
    batches,
    essays,
    excess_files,
    progress_log,
    rejected_files,
)


def _essay(row: Any) -> EssayRecord:
    return EssayRecord(**dict(row))


class ReadModel:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- writes (inside a handler's UnitOfWork) -------------------------------------------

    async def lock_batch(self, batch_id: UUID) -> BatchRecord:
        """The batch's row, locked for this transaction; created as an owner-less placeholder
        if no event has named the batch yet (one statement: the no-op update takes the lock)."""
        statement = insert(batches).values(batch_id=batch_id, status=BatchStatus.AWAITING_CONTENT)
        row = (
            (
                await self._session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["batch_id"], set_={"batch_id": statement.excluded.batch_id}
                    ).returning(*batches.c)
                )
            )
            .mappings()
            .one()
        )
        return BatchRecord(**row)

    async def update_batch(self, batch_id: UUID, **values: Any) -> None:
        await self._session.execute(
            update(batches)
            .where(batches.c.batch_id == batch_id)
            .values(**values, updated_at=func.now())
        )

    async def essay(self, batch_id: UUID, essay_id: UUID) -> EssayRecord | None:
        row = (
            (
                await self._session.execute(
                    select(essays).where(
                        essays.c.batch_id == batch_id, essays.c.essay_id == essay_id
                    )
                )
            )
            .mappings()
            .one_or_none()
        )
        return None if row is None else _essay(row)

    async def essays_by_id(self, batch_id: UUID) -> dict[UUID, EssayRecord]:
        return {e.essay_id: e for e in await self.essays_of(batch_id)}

    async def upsert_essay(self, batch_id: UUID, essay_id: UUID, **values: Any) -> None:
        """Write `values` on the essay's row, creating the row if this is its first fact."""
        statement = insert(essays).values(batch_id=batch_id, essay_id=essay_id, **values)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["batch_id", "essay_id"],
                set_={**{k: statement.excluded[k] for k in values}, "updated_at": func.now()},
            )
        )

    async def upsert_essays(self, batch_id: UUID, rows: Sequence[dict[str, Any]]) -> None:
        """`upsert_essay` for many essays in one statement; every row names the same columns
        and its `essay_id`."""
        if not rows:
            return
        columns = [k for k in rows[0] if k != "essay_id"]
        statement = insert(essays).values([{**row, "batch_id": batch_id} for row in rows])
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["batch_id", "essay_id"],
                set_={**{k: statement.excluded[k] for k in columns}, "updated_at": func.now()},
            )
        )

    async def add_rejected_file(self, batch_id: UUID, file_upload_id: UUID, **values: Any) -> None:
        await self._session.execute(
            insert(rejected_files)
            .values(batch_id=batch_id, file_upload_id=file_upload_id, **values)
            .on_conflict_do_nothing(index_elements=["file_upload_id"])
        )

    async def add_excess_file(self, batch_id: UUID, file_upload_id: UUID, **values: Any) -> None:
        await self._session.execute(
            insert(excess_files)
            .values(batch_id=batch_id, file_upload_id=file_upload_id, **values)
            .on_conflict_do_nothing(index_elements=["file_upload_id"])
        )

    async def phase(self, batch_id: UUID, phase: PhaseName) -> PhaseRecord | None:
        row = (
            (
                await self._session.execute(
                    select(batch_phases).where(
                        batch_phases.c.batch_id == batch_id, batch_phases.c.phase == phase
                    )
                )
            )
            .mappings()
            .one_or_none()
        )
        return None if row is None else PhaseRecord(**row)

    async def upsert_phase(self, batch_id: UUID, phase: PhaseName, **values: Any) -> None:
        statement = insert(batch_phases).values(batch_id=batch_id, phase=phase, **values)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["batch_id", "phase"],
                set_={k: statement.excluded[k] for k in values},
            )
        )

    async def append_progress(
        self, batch_id: UUID, kind: str, data: dict[str, Any]
    ) -> ProgressEvent:
        """The batch's next progress event, numbered under the batch row lock (one statement:
        the `seq` is taken from `batches.last_seq` and the log row written with it)."""
        at = datetime.now(UTC)
        payload = ProgressEvent(batch_id=batch_id, seq=1, kind=kind, at=at, data=data)
        next_seq = (
            update(batches)
            .where(batches.c.batch_id == batch_id)
            .values(last_seq=batches.c.last_seq + 1)
            .returning(batches.c.last_seq)
            .cte("next_seq")
        )
        seq = (
            await self._session.execute(
                insert(progress_log)
                .from_select(
                    ["batch_id", "seq", "kind", "at", "data"],
                    select(
                        literal(batch_id, Uuid()),
                        next_seq.c.last_seq,
                        literal(kind),
                        literal(at, DateTime(timezone=True)),
                        literal(payload.model_dump(mode="json")["data"], JSONB),
                    ),
                )
                .returning(progress_log.c.seq)
            )
        ).scalar_one()
        return payload.model_copy(update={"seq": seq})

    # -- reads -----------------------------------------------------------------------------

    async def batch(self, batch_id: UUID) -> BatchRecord | None:
        row = (
            (await self._session.execute(select(batches).where(batches.c.batch_id == batch_id)))
            .mappings()
            .one_or_none()
        )
        return None if row is None else BatchRecord(**row)

    async def owned_batch(self, batch_id: UUID, user_id: str) -> BatchRecord | None:
        """The batch if it is registered to `user_id`; anyone else's (or nobody's) is None."""
        batch = await self.batch(batch_id)
        if batch is None or batch.user_id is None or batch.user_id != user_id:
            return None
        return batch

    async def essays_of(self, batch_id: UUID) -> list[EssayRecord]:
        rows = await self._session.execute(
            select(essays)
            .where(essays.c.batch_id == batch_id)
            .order_by(essays.c.slot_index.nulls_last(), essays.c.essay_id)
        )
        return [_essay(row) for row in rows.mappings()]

    async def facts(self, batch: BatchRecord) -> BatchFacts:
        [found] = await self.facts_of([batch])
        return found

    async def facts_of(self, page: Sequence[BatchRecord]) -> list[BatchFacts]:
        """Every recorded fact of these batches, in four queries whatever their number."""
        ids = [b.batch_id for b in page]
        essay_rows = await self._session.execute(
            select(essays)
            .where(essays.c.batch_id.in_(ids))
            .order_by(essays.c.slot_index.nulls_last(), essays.c.essay_id)
        )
        rejected_rows = await self._session.execute(
            select(rejected_files)
            .where(rejected_files.c.batch_id.in_(ids))
            .order_by(rejected_files.c.arrival)
        )
        excess_rows = await self._session.execute(
            select(excess_files)
            .where(excess_files.c.batch_id.in_(ids))
            .order_by(excess_files.c.arrival)
        )
        phase_rows = await self._session.execute(
            select(batch_phases).where(batch_phases.c.batch_id.in_(ids))
        )
        by_batch: dict[UUID, dict[str, list[Any]]] = {
            i: {"essays": [], "rejected": [], "excess": [], "phases": []} for i in ids
        }
        for row in essay_rows.mappings():
            by_batch[row["batch_id"]]["essays"].append(_essay(row))
        for row in rejected_rows.mappings():
            by_batch[row["batch_id"]]["rejected"].append(RejectedFile(**row))
        for row in excess_rows.mappings():
            by_batch[row["batch_id"]]["excess"].append(ExcessFileRecord(**row))
        for row in phase_rows.mappings():
            by_batch[row["batch_id"]]["phases"].append(PhaseRecord(**row))
        return [BatchFacts(batch=b, **by_batch[b.batch_id]) for b in page]

    async def batches_of(
        self, user_id: str, *, limit: int, offset: int, status: BatchClientStatus | None
    ) -> tuple[list[BatchRecord], int]:
        """A page of the teacher's batches, newest first, and how many there are in all."""
        condition = batches.c.user_id == user_id
        if status is not None:
            condition = condition & batches.c.status.in_(_internal_statuses(status))
        total = (
            await self._session.execute(select(func.count()).select_from(batches).where(condition))
        ).scalar_one()
        rows = await self._session.execute(
            select(batches)
            .where(condition)
            .order_by(
                func.coalesce(batches.c.registered_at, batches.c.created_at).desc(),
                batches.c.batch_id,
            )
            .limit(limit)
            .offset(offset)
        )
        return [BatchRecord(**row) for row in rows.mappings()], int(total)

    async def progress_after(self, batch_id: UUID, after: int, limit: int) -> list[ProgressEvent]:
        rows = await self._session.execute(
            select(progress_log)
            .where(progress_log.c.batch_id == batch_id, progress_log.c.seq > after)
            .order_by(progress_log.c.seq)
            .limit(limit)
        )
        return [ProgressEvent(**row) for row in rows.mappings()]


def _internal_statuses(status: BatchClientStatus) -> Iterable[BatchStatus]:
    return [internal for internal, shown in CLIENT_STATUS_FOR.items() if shown is status]
