"""Spellcheck job rows over the handler's session."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from common_core.events.spellcheck import SpellcheckResult
from spellchecker.models import JobStatus, spellcheck_jobs


class SpellcheckJobs:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def exists(self, request_event_id: UUID) -> bool:
        found = await self._session.execute(
            select(spellcheck_jobs.c.request_event_id).where(
                spellcheck_jobs.c.request_event_id == request_event_id
            )
        )
        return found.first() is not None

    async def record(self, request_event_id: UUID, result: SpellcheckResult) -> bool:
        """Store the job's result; False when another delivery already recorded this request."""
        values: dict[str, Any] = {
            "request_event_id": request_event_id,
            "essay_id": result.essay_id,
            "batch_id": result.batch_id,
            "original_text_id": result.original_text_id,
            "corrected_text_id": result.corrected_text_id,
            "counts": {str(category): n for category, n in result.error_counts.items()},
            "status": JobStatus.COMPLETED if result.succeeded else JobStatus.FAILED,
            "error": None if result.error is None else result.error.model_dump(mode="json"),
        }
        inserted = await self._session.execute(
            insert(spellcheck_jobs)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[spellcheck_jobs.c.request_event_id])
            .returning(spellcheck_jobs.c.request_event_id)
        )
        return inserted.first() is not None
