"""The `uploads` table (what became of every file) and `upload_requests` (answers to replay)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from file_service.intake import ProcessedFile
from file_service.models import upload_requests, uploads


@dataclass(frozen=True)
class RememberedUpload:
    """The answer given to an earlier request under the same Idempotency-Key."""

    batch_id: UUID
    fingerprint: str
    response: dict[str, Any]


class UploadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        *,
        batch_id: UUID,
        user_id: str,
        correlation_id: UUID,
        files: Sequence[ProcessedFile],
    ) -> None:
        if not files:
            return
        await self._session.execute(
            insert(uploads),
            [
                {
                    "file_upload_id": file.file_upload_id,
                    "batch_id": batch_id,
                    "user_id": user_id,
                    "original_file_name": file.file_name,
                    "file_format": file.file_format,
                    "size_bytes": file.size_bytes,
                    "raw_file_id": file.raw_file_id,
                    "text_id": file.text_id,
                    "character_count": file.character_count,
                    "outcome": file.outcome,
                    "reason": file.rejection.code.value if file.rejection else None,
                    "message": file.rejection.message if file.rejection else None,
                    "correlation_id": correlation_id,
                }
                for file in files
            ],
        )

    async def remembered(self, user_id: str, idempotency_key: str) -> RememberedUpload | None:
        row = (
            await self._session.execute(
                select(
                    upload_requests.c.batch_id,
                    upload_requests.c.fingerprint,
                    upload_requests.c.response,
                ).where(
                    upload_requests.c.user_id == user_id,
                    upload_requests.c.idempotency_key == idempotency_key,
                )
            )
        ).first()
        if row is None:
            return None
        return RememberedUpload(row.batch_id, row.fingerprint, dict(row.response))

    async def remember(
        self,
        *,
        user_id: str,
        idempotency_key: str,
        batch_id: UUID,
        fingerprint: str,
        response: dict[str, Any],
    ) -> bool:
        """Keep the answer; False if a concurrent request with the key committed first."""
        statement = (
            pg_insert(upload_requests)
            .values(
                user_id=user_id,
                idempotency_key=idempotency_key,
                batch_id=batch_id,
                fingerprint=fingerprint,
                response=response,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "idempotency_key"])
            .returning(upload_requests.c.user_id)
        )
        return (await self._session.execute(statement)).first() is not None
