"""file_service: takes the uploaded files of a batch the gateway has checked belongs to the
teacher, and answers per file whether it was accepted."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from quart.datastructures import FileStorage

from api_gateway.clients.upstream import UpstreamClient
from api_gateway.models import UploadAccepted

USER_ID_HEADER = "X-User-ID"


class FileServiceClient:
    def __init__(self, upstream: UpstreamClient, *, timeout: float) -> None:
        self._upstream = upstream
        self._timeout = timeout

    async def upload(
        self, batch_id: UUID, teacher_id: str, files: Sequence[FileStorage]
    ) -> UploadAccepted:
        """Forward the files as multipart; the parsed files are read from their spooled streams."""
        response = await self._upstream.request(
            "POST",
            "/v1/files/batch",
            headers={USER_ID_HEADER: teacher_id},
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
        return self._upstream.parse(UploadAccepted, response)
