"""Reads and writes of stored content."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from content_service.models import contents


@dataclass(frozen=True)
class StoredContent:
    id: str
    media_type: str
    data: bytes


class ContentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def store(self, content_id: str, media_type: str, data: bytes) -> None:
        """Insert unless the same bytes are already stored (same id): the first type wins."""
        await self._session.execute(
            insert(contents)
            .values(id=content_id, media_type=media_type, size_bytes=len(data), data=data)
            .on_conflict_do_nothing(index_elements=[contents.c.id])
        )

    async def get(self, content_id: str) -> StoredContent | None:
        row = (
            await self._session.execute(
                select(contents.c.id, contents.c.media_type, contents.c.data).where(
                    contents.c.id == content_id
                )
            )
        ).one_or_none()
        if row is None:
            return None
        return StoredContent(id=row.id, media_type=row.media_type, data=bytes(row.data))
