"""The teacher's side of the public API: register, upload, start work, read status."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

RETRIED = frozenset({502, 503, 504})
"""Statuses after which a request made safe by an idempotency key is tried again."""


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


@dataclass(frozen=True)
class ServerSentEvent:
    """One frame of `GET /v1/batches/{id}/events`: `id` is the progress `seq`."""

    id: str | None
    event: str
    data: Any

    @property
    def seq(self) -> int:
        return int(self.id or 0)


class EventStreamParser:
    """Server-sent events from a stream's lines, fed one at a time.

    Follows the HTML rules that matter here: `data` lines are joined, a leading space after the
    colon is dropped, a blank line ends the event; `data` is JSON. A comment (e.g. the
    gateway's heartbeat) is reported as `None`.
    """

    def __init__(self) -> None:
        self._id: str | None = None
        self._kind = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> list[ServerSentEvent | None]:
        if line.startswith(":"):
            return [None]
        if not line:
            complete = (
                [ServerSentEvent(self._id, self._kind, json.loads("\n".join(self._data)))]
                if self._data
                else []
            )
            self._id, self._kind, self._data = None, "message", []
            return list(complete)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            self._id = value
        elif name == "event":
            self._kind = value
        elif name == "data":
            self._data.append(value)
        return []


class TeacherClient:
    """One signed-in teacher talking to the gateway."""

    @classmethod
    async def sign_in(cls, base_url: str, teacher_id: str, **kwargs: Any) -> TeacherClient:
        """A client with a token from the gateway's development sign-in (`/v1/dev/token`)."""
        async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as http:
            response = await http.post("/v1/dev/token", json={"teacher_id": teacher_id})
        if response.status_code != 200:
            raise ApiError(response.status_code, response.json() if response.content else None)
        return cls(base_url, response.json()["access_token"], **kwargs)

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

    async def upload_files(
        self,
        batch_id: str,
        files: Iterable[UploadFile],
        *,
        idempotency_key: str | None = None,
        attempts: int = 3,
    ) -> dict[str, Any]:
        """Upload under one `Idempotency-Key`, retrying when the answer is lost.

        A retry after a dropped connection or a 502/503/504 is safe: the platform answers a
        repeated key with the first outcome and records no file twice.
        """
        parts = [("files", (f.name, f.data, f.media_type)) for f in files]
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        for attempt in range(1, attempts + 1):
            try:
                return await self._json(
                    "POST",
                    "/v1/files/batch",
                    data={"batch_id": batch_id},
                    files=parts,
                    headers=headers,
                )
            except (httpx.TransportError, ApiError) as error:
                retriable = isinstance(error, httpx.TransportError) or error.status in RETRIED
                if not retriable or attempt == attempts:
                    raise
                await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def register_anchor(
        self, assignment_id: str, *, grade_scale: str, grade: str, label: str, text: str
    ) -> dict[str, Any]:
        """An anchor essay with a known grade; batches naming the assignment are graded by it."""
        return await self._json(
            "POST",
            f"/v1/assignments/{assignment_id}/anchors",
            json={"grade_scale": grade_scale, "grade": grade, "label": label, "text": text},
        )

    async def anchors(self, assignment_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/v1/assignments/{assignment_id}/anchors")

    async def start_pipeline(self, batch_id: str, pipeline: str) -> dict[str, Any]:
        return await self._json(
            "POST", f"/v1/batches/{batch_id}/pipelines", json={"requested_pipeline": pipeline}
        )

    async def batch_status(self, batch_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/v1/batches/{batch_id}/status")

    async def list_batches(self, **params: Any) -> dict[str, Any]:
        return await self._json("GET", "/v1/batches", params=params)

    async def results(self, batch_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/v1/batches/{batch_id}/results")

    async def results_csv(self, batch_id: str) -> str:
        """The results as the CSV a teacher downloads (`Accept: text/csv`)."""
        response = await self._http.get(
            f"/v1/batches/{batch_id}/results", headers={"Accept": "text/csv"}
        )
        if response.status_code >= 400:
            raise ApiError(response.status_code, response.json() if response.content else None)
        return response.text

    async def essay_text(self, batch_id: str, essay_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/v1/batches/{batch_id}/essays/{essay_id}/text")

    async def events(
        self,
        batch_id: str,
        *,
        after: int | None = None,
        until: str | None = None,
        heartbeats: bool = False,
        read_timeout_s: float | None = None,
    ) -> AsyncGenerator[ServerSentEvent | None, None]:
        """The batch's live progress (`None` for a heartbeat when `heartbeats`).

        `after` is sent as `Last-Event-ID`, as a reconnecting browser does; with `until`
        (e.g. `pipeline.completed`) the gateway ends the stream after that event.
        `read_timeout_s` bounds the silence between two reads (a heartbeat counts).
        """
        headers = {"Accept": "text/event-stream"}
        if after is not None:
            headers["Last-Event-ID"] = str(after)
        params = {"until": until} if until is not None else {}
        async with self._http.stream(
            "GET",
            f"/v1/batches/{batch_id}/events",
            headers=headers,
            params=params,
            timeout=httpx.Timeout(30.0, read=read_timeout_s),
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise ApiError(response.status_code, response.json() if response.content else None)
            parser = EventStreamParser()
            async for line in response.aiter_lines():
                for event in parser.feed(line):
                    if event is not None or heartbeats:
                        yield event

    async def wait_for_status(
        self, batch_id: str, statuses: Sequence[str], *, within_s: float = 60.0
    ) -> dict[str, Any]:
        """Poll the status until it is one of `statuses`; raise TimeoutError with the last one.

        A 429 (the teacher's request budget) is waited out as the gateway asks, not raised.
        """
        deadline = time.monotonic() + within_s
        last = "unknown"
        while True:
            try:
                status = await self.batch_status(batch_id)
            except ApiError as error:
                if error.status != 429:
                    raise
                retry_after = (error.body or {}).get("details", {}).get("retry_after_seconds", 1)
                await asyncio.sleep(min(float(retry_after), max(0.0, deadline - time.monotonic())))
            else:
                last = status["status"]
                if last in statuses:
                    return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} still {last} after {within_s}s")
            await asyncio.sleep(0.5)

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._http.request(method, path, **kwargs)
        body = response.json() if response.content else None
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        if not isinstance(body, dict):
            raise ApiError(response.status_code, body)
        return body
