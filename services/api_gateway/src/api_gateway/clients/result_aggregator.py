"""result_aggregator (RAS): the read model the teacher sees (lists, status, results, progress).

Every read names the teacher (`X-User-ID`); RAS answers 404 for a batch it does not know or
that belongs to someone else, and the gateway passes that on as its own 404.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel

from api_gateway.clients.upstream import UpstreamClient
from common_core.progress import ProgressEvent
from common_core.read_model import BatchList, BatchResults, BatchStatusView, EssayResultDetail
from common_core.status import BatchClientStatus
from huleedu_service_libs.http import USER_ID_HEADER

CSV_MEDIA_TYPE = "text/csv"

PROGRESS_PAGE_LIMIT = 500
"""Progress events asked for in one read; a reader catching up reads again after the last."""


class ProgressPage(BaseModel):
    """RAS `GET /v1/batches/{id}/progress`."""

    events: list[ProgressEvent]


class ResultAggregatorClient:
    def __init__(self, upstream: UpstreamClient) -> None:
        self._upstream = upstream

    async def progress(self, teacher_id: str, batch_id: UUID, after: int) -> list[ProgressEvent]:
        """The batch's progress events with `seq > after`, in order (at most one page).

        Raises the gateway's 404 when the batch is not the teacher's (or not known yet).
        """
        response = await self._upstream.request(
            "GET",
            f"/v1/batches/{batch_id}/progress",
            headers={USER_ID_HEADER: teacher_id},
            params={"after": after, "limit": PROGRESS_PAGE_LIMIT},
        )
        return self._upstream.parse(ProgressPage, response).events

    async def batches_of(
        self, teacher_id: str, *, limit: int, offset: int, status: BatchClientStatus | None
    ) -> BatchList:
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = status.value
        response = await self._upstream.request(
            "GET", "/v1/batches", headers={USER_ID_HEADER: teacher_id}, params=params
        )
        return self._upstream.parse(BatchList, response)

    async def status(self, teacher_id: str, batch_id: UUID) -> BatchStatusView | None:
        """The batch's status view, or None when RAS has not (yet) seen it as the teacher's."""
        response = await self._upstream.request(
            "GET",
            f"/v1/batches/{batch_id}",
            headers={USER_ID_HEADER: teacher_id},
            passthrough={404},
        )
        if response.status_code == 404:
            return None
        return self._upstream.parse(BatchStatusView, response)

    async def results(self, teacher_id: str, batch_id: UUID) -> BatchResults:
        response = await self._upstream.request(
            "GET", f"/v1/batches/{batch_id}/results", headers={USER_ID_HEADER: teacher_id}
        )
        return self._upstream.parse(BatchResults, response)

    async def results_csv(self, teacher_id: str, batch_id: UUID) -> tuple[bytes, str]:
        """The results table as CSV and RAS's `Content-Disposition` (with the file name)."""
        response = await self._upstream.request(
            "GET",
            f"/v1/batches/{batch_id}/results",
            headers={USER_ID_HEADER: teacher_id, "Accept": CSV_MEDIA_TYPE},
        )
        disposition = response.headers.get(
            "Content-Disposition", f'attachment; filename="huleedu-results-{batch_id}.csv"'
        )
        return response.content, disposition

    async def essay(self, teacher_id: str, batch_id: UUID, essay_id: UUID) -> EssayResultDetail:
        response = await self._upstream.request(
            "GET",
            f"/v1/batches/{batch_id}/essays/{essay_id}",
            headers={USER_ID_HEADER: teacher_id},
        )
        return self._upstream.parse(EssayResultDetail, response)
