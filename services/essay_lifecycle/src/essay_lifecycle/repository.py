"""ELS queries over one session (one transaction). Contention is left to the database.

The slot statement is the heart of it: one `UPDATE ... WHERE essay_id = (SELECT ... FOR UPDATE
SKIP LOCKED LIMIT 1) RETURNING`, so concurrent workers each take a different free slot and
none ever waits on another's (invariant 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import Table, delete, func, insert, literal, select, text, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from common_core.errors import ErrorCode
from common_core.events.batch import BatchEssaysRegistered
from common_core.status import EssayStatus
from essay_lifecycle.domain.essay_state import FREE_SLOT
from essay_lifecycle.domain.intake import SlotView, Upload, UploadKind
from essay_lifecycle.models import batches, essays, excess_content, pending_content

# First key of the two-key advisory locks that order a batch's registration against content
# arriving for it (the second key is a hash of the batch id).
BATCH_REGISTRATION_LOCK = 0x454C53  # "ELS"


class UploadPlace(StrEnum):
    """Where an uploaded file already is."""

    SLOT = "slot"
    PENDING = "pending"
    EXCESS = "excess"


@dataclass(frozen=True)
class BatchRecord:
    batch_id: UUID
    expected_essay_count: int
    correlation_id: UUID
    registered_at: datetime
    intake_completed_at: datetime | None


@dataclass(frozen=True)
class EssayRecord:
    essay_id: UUID
    slot_index: int
    status: EssayStatus
    file_upload_id: UUID | None
    original_file_name: str | None
    text_id: str | None
    failure_code: str | None
    failure_message: str | None
    updated_at: datetime


class EssayRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def read_one_snapshot(self) -> None:
        """Make the rest of this transaction read one snapshot (first statement only).

        A view built from several queries must not see a registration commit half-way
        (e.g. no batch yet, and its pending uploads already moved into slots).
        """
        await self._session.execute(
            text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        )

    # --- batches ------------------------------------------------------------------------

    async def lock_registration(self, batch_id: UUID, *, exclusive: bool) -> None:
        """Order a registration (exclusive) against uploads deciding "not registered" (shared).

        Held until the transaction ends. A row lock cannot do this: the batch row does not
        exist yet, and an uncommitted insert is invisible rather than locked.
        """
        function = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
        await self._session.execute(
            select(function(BATCH_REGISTRATION_LOCK, func.hashtext(str(batch_id))))
        )

    async def insert_batch(self, event: BatchEssaysRegistered, correlation_id: UUID) -> bool:
        """Create the batch; False if it was registered before (nothing changes then)."""
        statement = (
            pg_insert(batches)
            .values(
                batch_id=event.batch_id,
                user_id=event.user_id,
                expected_essay_count=event.expected_essay_count,
                course_code=event.course_code,
                language=event.language,
                essay_instructions=event.essay_instructions,
                assignment_id=event.assignment_id,
                correlation_id=correlation_id,
            )
            .on_conflict_do_nothing(index_elements=[batches.c.batch_id])
            .returning(batches.c.batch_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def insert_slots(self, batch_id: UUID, essay_ids: Sequence[UUID]) -> None:
        """One free slot per essay id, in the registration's order."""
        await self._session.execute(
            insert(essays),
            [
                {
                    "essay_id": essay_id,
                    "batch_id": batch_id,
                    "slot_index": index,
                    "status": FREE_SLOT,
                }
                for index, essay_id in enumerate(essay_ids)
            ],
        )

    async def get_batch(self, batch_id: UUID) -> BatchRecord | None:
        return await self._batch(batch_id, lock=False)

    async def lock_batch(self, batch_id: UUID) -> BatchRecord | None:
        """The batch row under `FOR UPDATE`: decisions about the whole batch take turns here."""
        return await self._batch(batch_id, lock=True)

    async def _batch(self, batch_id: UUID, *, lock: bool) -> BatchRecord | None:
        statement = select(
            batches.c.batch_id,
            batches.c.expected_essay_count,
            batches.c.correlation_id,
            batches.c.registered_at,
            batches.c.intake_completed_at,
        ).where(batches.c.batch_id == batch_id)
        if lock:
            statement = statement.with_for_update()
        row = (await self._session.execute(statement)).mappings().one_or_none()
        return None if row is None else BatchRecord(**row)

    async def mark_intake_completed(
        self, batch_id: UUID, ready: Sequence[tuple[UUID, EssayStatus, EssayStatus]]
    ) -> None:
        """Stamp the batch and move each ready slot from its status to the next one."""
        await self._session.execute(
            update(batches)
            .where(batches.c.batch_id == batch_id)
            .values(intake_completed_at=func.now())
        )
        for essay_id, current, new in ready:
            await self._session.execute(
                update(essays)
                .where(essays.c.essay_id == essay_id, essays.c.status == current)
                .values(status=new, updated_at=func.now())
            )

    # --- slots --------------------------------------------------------------------------

    async def fill_free_slot(self, upload: Upload, new_status: EssayStatus) -> UUID | None:
        """Put `upload` into the batch's lowest free slot that no other transaction holds.

        None means no free slot could be taken: either all are taken or the free ones are
        locked by concurrent transactions (`free_slot_count` tells which).
        """
        free_slot = (
            select(essays.c.essay_id)
            .where(essays.c.batch_id == upload.batch_id, essays.c.status == FREE_SLOT)
            .order_by(essays.c.slot_index)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            update(essays)
            .where(essays.c.essay_id == free_slot)
            .values(
                status=new_status,
                file_upload_id=upload.file_upload_id,
                original_file_name=upload.original_file_name,
                text_id=upload.text_id,
                raw_file_id=upload.raw_file_id,
                failure_code=upload.failure_code.value if upload.failure_code else None,
                failure_message=upload.failure_message,
                updated_at=func.now(),
            )
            .returning(essays.c.essay_id)
        )
        essay_id: UUID | None = (await self._session.execute(statement)).scalar_one_or_none()
        return essay_id

    async def free_slot_count(self, batch_id: UUID) -> int:
        """Free slots as committed (slots locked by in-flight transactions included)."""
        statement = (
            select(func.count())
            .select_from(essays)
            .where(essays.c.batch_id == batch_id, essays.c.status == FREE_SLOT)
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def slot_views(self, batch_id: UUID) -> list[SlotView]:
        statement = (
            select(
                essays.c.essay_id,
                essays.c.status,
                essays.c.updated_at,
                essays.c.text_id,
                essays.c.failure_code,
                essays.c.failure_message,
            )
            .where(essays.c.batch_id == batch_id)
            .order_by(essays.c.slot_index)
        )
        rows = (await self._session.execute(statement)).mappings().all()
        return [
            SlotView(
                essay_id=row["essay_id"],
                status=row["status"],
                updated_at=row["updated_at"],
                text_id=row["text_id"],
                failure_code=ErrorCode(row["failure_code"]) if row["failure_code"] else None,
                failure_message=row["failure_message"],
            )
            for row in rows
        ]

    async def essays_of(self, batch_id: UUID) -> list[EssayRecord]:
        statement = (
            select(
                essays.c.essay_id,
                essays.c.slot_index,
                essays.c.status,
                essays.c.file_upload_id,
                essays.c.original_file_name,
                essays.c.text_id,
                essays.c.failure_code,
                essays.c.failure_message,
                essays.c.updated_at,
            )
            .where(essays.c.batch_id == batch_id)
            .order_by(essays.c.slot_index)
        )
        return [EssayRecord(**row) for row in (await self._session.execute(statement)).mappings()]

    # --- uploads waiting for or beyond their slots --------------------------------------

    async def find_upload(self, file_upload_id: UUID) -> UploadPlace | None:
        """Where this uploaded file already is, if anywhere."""
        statement = union_all(
            select(literal(UploadPlace.SLOT.value)).where(
                essays.c.file_upload_id == file_upload_id
            ),
            select(literal(UploadPlace.PENDING.value)).where(
                pending_content.c.file_upload_id == file_upload_id
            ),
            select(literal(UploadPlace.EXCESS.value)).where(
                excess_content.c.file_upload_id == file_upload_id
            ),
        ).limit(1)
        place = (await self._session.execute(statement)).scalar_one_or_none()
        return None if place is None else UploadPlace(place)

    async def add_pending(self, upload: Upload) -> bool:
        """Keep an upload until its batch is registered; False if it is already kept."""
        return await self._add_upload(pending_content, upload)

    async def add_excess(self, upload: Upload) -> bool:
        """Record an upload that found every slot taken; False if already recorded."""
        return await self._add_upload(excess_content, upload)

    async def _add_upload(self, target: Table, upload: Upload) -> bool:
        statement = (
            pg_insert(target)
            .values(
                file_upload_id=upload.file_upload_id,
                batch_id=upload.batch_id,
                kind=upload.kind,
                original_file_name=upload.original_file_name,
                text_id=upload.text_id,
                raw_file_id=upload.raw_file_id,
                failure_code=upload.failure_code.value if upload.failure_code else None,
                failure_message=upload.failure_message,
                correlation_id=upload.correlation_id,
            )
            .on_conflict_do_nothing(index_elements=[target.c.file_upload_id])
            .returning(target.c.file_upload_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def take_pending(self, batch_id: UUID) -> list[Upload]:
        """Remove and return the batch's pending uploads, oldest first."""
        statement = (
            delete(pending_content)
            .where(pending_content.c.batch_id == batch_id)
            .returning(*pending_content.c)
        )
        rows = (await self._session.execute(statement)).mappings().all()
        return [_upload(row) for row in sorted(rows, key=lambda row: int(row["arrival"]))]

    async def pending_count(self, batch_id: UUID) -> int:
        statement = (
            select(func.count())
            .select_from(pending_content)
            .where(pending_content.c.batch_id == batch_id)
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def excess_of(self, batch_id: UUID) -> list[Upload]:
        """The batch's surplus uploads, in arrival order."""
        statement = (
            select(excess_content)
            .where(excess_content.c.batch_id == batch_id)
            .order_by(excess_content.c.arrival)
        )
        rows = (await self._session.execute(statement)).mappings().all()
        return [_upload(row) for row in rows]


def _upload(row: RowMapping) -> Upload:
    return Upload(
        batch_id=row["batch_id"],
        file_upload_id=row["file_upload_id"],
        original_file_name=row["original_file_name"],
        kind=UploadKind(row["kind"]),
        correlation_id=row["correlation_id"],
        text_id=row["text_id"],
        raw_file_id=row["raw_file_id"],
        failure_code=ErrorCode(row["failure_code"]) if row["failure_code"] else None,
        failure_message=row["failure_message"],
    )
