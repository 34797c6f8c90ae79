"""The teacher's side of the public API: register, upload, start work, read status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx


class ApiError(RuntimeError):
    """A non-success answer, with the platform's machine-readable error code."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.code = body.get("code") if isinstance(body, dict) else None
        super().__init__(f"HTTP {status}: {body}")


@dataclass(frozen=True)
class UploadFile:
    name: str
    data: bytes
    media_type: str = "application/octet-stream"

    @classmethod
    def from_path(cls, path: Path) -> UploadFile:
        return cls(path.name, path.read_bytes())


class TeacherClient:
    """One signed-in teacher talking to the gateway."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def register_batch(
        self,
        expected_essay_count: int,
        *,
        course_code: str = "ENG5",
        title: str | None = None,
        essay_instructions: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "expected_essay_count": expected_essay_count,
            "course_code": course_code,
            **extra,
        }
        if title is not None:
            body["title"] = title
        if essay_instructions is not None:
            body["essay_instructions"] = essay_instructions
        return await self._json("POST", "/v1/batches/register", json=body)

    async def upload_files(self, batch_id: str, files: Iterable[UploadFile]) -> dict[str, Any]:
        parts = [("files", (f.name, f.data, f.media_type)) for f in files]
        return await self._json("POST", "/v1/files/batch", data={"batch_id": batch_id}, files=parts)

    async def start_pipeline(self, batch_id: str, pipeline: str) -> dict[str, Any]:
        return await self._json(
            "POST", f"/v1/batches/{batch_id}/pipelines", json={"requested_pipeline": pipeline}
        )

    async def batch_status(self, batch_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/v1/batches/{batch_id}/status")

    async def list_batches(self, **params: Any) -> dict[str, Any]:
        return await self._json("GET", "/v1/batches", params=params)

    async def wait_for_status(
        self, batch_id: str, statuses: Sequence[str], *, within_s: float = 60.0
    ) -> dict[str, Any]:
        """Poll the status until it is one of `statuses`; raise TimeoutError with the last one."""
        deadline = time.monotonic() + within_s
        while True:
            status = await self.batch_status(batch_id)
            if status["status"] in statuses:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} still {status['status']} after {within_s}s")
            await asyncio.sleep(0.25)

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._http.request(method, path, **kwargs)
        body = response.json() if response.content else None
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        if not isinstance(body, dict):
            raise ApiError(response.status_code, body)
        return body
