"""batch_orchestrator (BOS): registers batches, owns their status and their owner."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from api_gateway.clients.upstream import UpstreamClient
from api_gateway.models import RegisterBatchRequest, RegistrationAccepted
from common_core.status import BatchClientStatus, BatchStatus


class BatchView(BaseModel):
    """BOS `GET /v1/batches/{id}`: the batch as its owner service sees it."""

    batch_id: UUID
    user_id: str
    title: str | None = None
    course_code: str
    class_id: str | None = None
    status: BatchStatus
    client_status: BatchClientStatus
    expected_essay_count: int
    provisioned_count: int
    failed_count: int
    excess_count: int
    created_at: datetime
    updated_at: datetime


class BatchPage(BaseModel):
    items: list[BatchView]
    total: int
    limit: int
    offset: int


class BatchOrchestratorClient:
    def __init__(self, upstream: UpstreamClient) -> None:
        self._upstream = upstream

    async def register(
        self, teacher_id: str, registration: RegisterBatchRequest
    ) -> RegistrationAccepted:
        response = await self._upstream.request(
            "POST",
            "/v1/batches",
            json={"user_id": teacher_id, **registration.model_dump(mode="json", exclude_none=True)},
        )
        return self._upstream.parse(RegistrationAccepted, response)

    async def batch(self, batch_id: UUID) -> BatchView | None:
        """The batch, or None when BOS does not know it."""
        response = await self._upstream.request("GET", f"/v1/batches/{batch_id}", passthrough={404})
        if response.status_code == 404:
            return None
        return self._upstream.parse(BatchView, response)

    async def batches_of(
        self, teacher_id: str, *, limit: int, offset: int, status: BatchClientStatus | None
    ) -> BatchPage:
        params: dict[str, str | int] = {"user_id": teacher_id, "limit": limit, "offset": offset}
        if status is not None:
            params["status"] = status.value
        response = await self._upstream.request("GET", "/v1/batches", params=params)
        return self._upstream.parse(BatchPage, response)
