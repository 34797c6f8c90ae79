"""content_service over HTTP, the one client every service that stores or reads content uses.

Storing is idempotent (same bytes, same id). Errors say who is at fault: a 4xx is about this
content (`ContentRefusedError`: refused, or no such id) and is the caller's to report; an
unreachable or failing content_service (`ContentServiceUnavailableError`) is transient, so a
request answers 503 and a consumed event is retried.
"""

from __future__ import annotations

import re
from contextlib import suppress
from uuid import UUID

import httpx

from huleedu_service_libs.http import CORRELATION_ID_HEADER
from huleedu_service_libs.logging import (
    current_correlation_id,
    get_logger,
    traceparent_for_current_context,
)

TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"
_CONTENT_ID = re.compile(r"[0-9a-f]{64}")
_log = get_logger(__name__)


class ContentServiceUnavailableError(Exception):
    """content_service could not be reached, timed out, failed or broke its contract."""


class ContentRefusedError(Exception):
    """content_service answered 4xx: it refused these bytes, or has no such content."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ContentClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/v1/content"

    async def store(
        self, data: bytes, media_type: str, *, correlation_id: UUID | None = None
    ) -> str:
        """The content id of `data`, stored with `media_type`."""
        response = await self._send(
            "POST", self._url, correlation_id, content=data, media_type=media_type
        )
        if response.status_code not in (200, 201):
            raise _failure(response)
        try:
            content_id = response.json()["content_id"]
        except (ValueError, KeyError, TypeError) as error:
            raise ContentServiceUnavailableError(
                "content_service answered without an id"
            ) from error
        if not isinstance(content_id, str) or not _CONTENT_ID.fullmatch(content_id):
            raise ContentServiceUnavailableError("content_service answered a malformed id")
        return content_id

    async def fetch(self, content_id: str, *, correlation_id: UUID | None = None) -> bytes:
        response = await self._send("GET", f"{self._url}/{content_id}", correlation_id)
        if response.status_code != 200:
            raise _failure(response)
        return response.content

    async def _send(
        self,
        method: str,
        url: str,
        correlation_id: UUID | None,
        *,
        content: bytes | None = None,
        media_type: str | None = None,
    ) -> httpx.Response:
        headers = {"traceparent": traceparent_for_current_context()}
        if correlation_id is None:
            # Outside a request or event there is none: content_service mints its own.
            with suppress(LookupError):
                correlation_id = current_correlation_id()
        if correlation_id is not None:
            headers[CORRELATION_ID_HEADER] = str(correlation_id)
        if media_type is not None:
            headers["Content-Type"] = media_type
        try:
            return await self._http.request(method, url, content=content, headers=headers)
        except httpx.HTTPError as error:
            _log.warning("content_service_unreachable", error=repr(error))
            raise ContentServiceUnavailableError(
                f"content_service unreachable: {error!r}"
            ) from error


def _failure(response: httpx.Response) -> Exception:
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    text = str(message) if message else f"content_service answered {response.status_code}"
    if 400 <= response.status_code < 500:
        _log.warning("content_refused", status=response.status_code, message=text[:500])
        return ContentRefusedError(response.status_code, text)
    _log.error("content_service_failed", status=response.status_code)
    return ContentServiceUnavailableError(text)
