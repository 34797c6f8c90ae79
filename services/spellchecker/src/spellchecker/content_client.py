"""content_service over HTTP: the essay text in, the corrected text out.

A missing text is a property of the essay (reported as its failure); an unreachable or failing
content_service is not, so it raises and the consumer loop retries the event.
"""

from __future__ import annotations

import re
from uuid import UUID

import httpx

from huleedu_service_libs.http import CORRELATION_ID_HEADER
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)
_CONTENT_ID = re.compile(r"[0-9a-f]{64}")
TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"


class ContentServiceUnavailableError(Exception):
    """content_service could not be reached, timed out, failed or broke its contract."""


class ContentMissingError(Exception):
    """content_service does not have this content (or refused to serve it: a 4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ContentClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/v1/content"

    async def fetch(self, content_id: str, correlation_id: UUID) -> bytes:
        response = await self._send("GET", f"{self._url}/{content_id}", correlation_id)
        if 400 <= response.status_code < 500:
            raise ContentMissingError(response.status_code, _error_message(response))
        if response.status_code != 200:
            raise ContentServiceUnavailableError(f"content_service answered {response.status_code}")
        return response.content

    async def store_text(self, text: str, correlation_id: UUID) -> str:
        """The content id of `text`, stored as UTF-8 plain text (idempotent: same text, same id)."""
        response = await self._send(
            "POST",
            self._url,
            correlation_id,
            content=text.encode("utf-8"),
            media_type=TEXT_MEDIA_TYPE,
        )
        if response.status_code not in (200, 201):
            raise ContentServiceUnavailableError(
                f"content_service answered {response.status_code}: {_error_message(response)}"
            )
        try:
            content_id = response.json()["content_id"]
        except (ValueError, KeyError, TypeError) as error:
            raise ContentServiceUnavailableError(
                "content_service answered without an id"
            ) from error
        if not isinstance(content_id, str) or not _CONTENT_ID.fullmatch(content_id):
            raise ContentServiceUnavailableError("content_service answered a malformed id")
        return content_id

    async def _send(
        self,
        method: str,
        url: str,
        correlation_id: UUID,
        *,
        content: bytes | None = None,
        media_type: str | None = None,
    ) -> httpx.Response:
        headers = {CORRELATION_ID_HEADER: str(correlation_id)}
        if media_type is not None:
            headers["Content-Type"] = media_type
        try:
            return await self._http.request(method, url, content=content, headers=headers)
        except httpx.HTTPError as error:
            _log.warning("content_service_unreachable", error=repr(error))
            raise ContentServiceUnavailableError(
                f"content_service unreachable: {error!r}"
            ) from error


def _error_message(response: httpx.Response) -> str:
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else f"content_service answered {response.status_code}"
