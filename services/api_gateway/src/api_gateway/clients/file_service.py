"""file_service: takes the uploaded files of a batch the gateway has checked belongs to the
teacher, and answers per file whether it was accepted."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from quart.datastructures import FileStorage

from api_gateway.clients.upstream import UpstreamClient
from api_gateway.models import UploadAccepted
from huleedu_service_libs.http import USER_ID_HEADER

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class FileServiceClient:
    def __init__(self, upstream: UpstreamClient, *, timeout: float) -> None:
        self._upstream = upstream
        self._timeout = timeout

    async def upload(
        self,
        batch_id: UUID,
        teacher_id: str,
        files: Sequence[FileStorage],
        *,
        idempotency_key: str | None = None,
    ) -> tuple[UploadAccepted, bool]:
        """Forward the files as multipart; the parsed files are read from their spooled streams.

        Returns the outcome and whether it is the replayed answer to an earlier request under
        the same `idempotency_key` (file_service then recorded nothing new).
        """
        headers = {USER_ID_HEADER: teacher_id}
        if idempotency_key is not None:
            headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        response = await self._upstream.request(
            "POST",
            "/v1/files/batch",
            headers=headers,
            data={"batch_id": str(batch_id)},
            files=[
                (
                    "files",
                    (
                        file.filename or "",
                        file.stream,
                        file.mimetype or "application/octet-stream",
                    ),
                )
                for file in files
            ],
            timeout_seconds=self._timeout,
        )
        replayed = response.headers.get(REPLAYED_HEADER) == "true"
        return self._upstream.parse(UploadAccepted, response), replayed
