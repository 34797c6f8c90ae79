"""essay_lifecycle (ELS): the slots of a batch, the content in them, and surplus files."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel

from api_gateway.clients.upstream import UpstreamClient
from common_core.errors import ErrorCode
from common_core.status import EssayStatus, PhaseName


class EssayFailureView(BaseModel):
    code: ErrorCode
    message: str


class EssayPhaseView(BaseModel):
    phase: PhaseName
    status: EssayStatus
    text_id: str | None = None
    failure: EssayFailureView | None = None
    details: dict[str, Any] | None = None


class EssayView(BaseModel):
    essay_id: UUID
    status: EssayStatus
    original_file_name: str | None = None
    file_upload_id: UUID | None = None
    text_id: str | None = None
    failure: EssayFailureView | None = None
    phases: list[EssayPhaseView] = []


class ExcessView(BaseModel):
    file_upload_id: UUID
    original_file_name: str
    text_id: str | None = None
    failure: EssayFailureView | None = None


class BatchEssays(BaseModel):
    """ELS `GET /v1/batches/{id}/essays`."""

    batch_id: UUID
    registered: bool
    expected_essay_count: int | None = None
    essays: list[EssayView]
    excess: list[ExcessView]
    pending_content: int = 0


class EssayLifecycleClient:
    def __init__(self, upstream: UpstreamClient) -> None:
        self._upstream = upstream

    async def essays_of(self, batch_id: UUID) -> BatchEssays | None:
        """The batch's essays, or None when ELS has heard nothing of the batch yet."""
        response = await self._upstream.request(
            "GET", f"/v1/batches/{batch_id}/essays", passthrough={404}
        )
        if response.status_code == 404:
            return None
        return self._upstream.parse(BatchEssays, response)
