"""The `uploads` table: what became of every uploaded file, next to its outbox event."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from file_service.intake import ProcessedFile
from file_service.models import uploads


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
