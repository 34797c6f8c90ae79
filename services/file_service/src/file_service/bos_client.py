"""The batch orchestrator (BOS) over HTTP: does the batch exist, and does it take content?"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from common_core.status import BatchStatus
from file_service.upstream import context_headers
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)

ACCEPTING_CONTENT = frozenset({BatchStatus.AWAITING_CONTENT, BatchStatus.READY})
"""A READY batch still takes files: ELS records them as excess, visible to the teacher."""


class BatchOrchestratorUnavailableError(Exception):
    """BOS could not be reached, timed out, failed or broke its contract."""


class _BatchView(BaseModel):
    """The part of BOS's BatchView this service needs."""

    model_config = ConfigDict(extra="ignore")

    batch_id: UUID
    user_id: str
    status: BatchStatus


@dataclass(frozen=True)
class BatchInfo:
    batch_id: UUID
    user_id: str
    status: BatchStatus

    @property
    def accepts_content(self) -> bool:
        return self.status in ACCEPTING_CONTENT


class BatchOrchestratorClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")

    async def get_batch(self, batch_id: UUID) -> BatchInfo | None:
        """The batch as BOS sees it now; None if BOS does not know it."""
        try:
            response = await self._http.get(
                f"{self._base_url}/v1/batches/{batch_id}", headers=context_headers()
            )
        except httpx.HTTPError as error:
            _log.warning("batch_orchestrator_unreachable", error=repr(error))
            raise BatchOrchestratorUnavailableError(
                f"batch_orchestrator unreachable: {error!r}"
            ) from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            _log.error(
                "batch_orchestrator_failed",
                status=response.status_code,
                body=response.text[:500],
            )
            raise BatchOrchestratorUnavailableError(
                f"batch_orchestrator answered {response.status_code}"
            )
        try:
            view = _BatchView.model_validate_json(response.content)
        except ValidationError as error:
            raise BatchOrchestratorUnavailableError(
                "batch_orchestrator answered a malformed batch"
            ) from error
        return BatchInfo(batch_id=view.batch_id, user_id=view.user_id, status=view.status)
