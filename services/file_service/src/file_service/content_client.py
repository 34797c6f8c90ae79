"""content_service over HTTP: raw uploads and extracted texts are stored there by content hash.

Storing is idempotent (same bytes, same id), so a retried upload request stores nothing twice.
An outage is not a property of the file: it fails the whole request (503) so the teacher can
retry, instead of turning good files into rejections or losing them.
"""

from __future__ import annotations

import re

import httpx

from file_service.upstream import context_headers
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)
_CONTENT_ID = re.compile(r"[0-9a-f]{64}")
TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"


class ContentServiceUnavailableError(Exception):
    """content_service could not be reached, timed out, failed or broke its contract."""


class ContentRejectedError(Exception):
    """content_service refused these bytes (a 4xx): storing this one file is impossible."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ContentClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/v1/content"

    async def store(self, data: bytes, media_type: str) -> str:
        """The content id of `data`, stored with `media_type`."""
        try:
            response = await self._http.post(
                self._url,
                content=data,
                headers={**context_headers(), "Content-Type": media_type},
            )
        except httpx.HTTPError as error:
            _log.warning("content_service_unreachable", error=repr(error))
            raise ContentServiceUnavailableError(
                f"content_service unreachable: {error!r}"
            ) from error
        if 400 <= response.status_code < 500:
            _log.warning("content_rejected", status=response.status_code, body=response.text[:500])
            raise ContentRejectedError(response.status_code, _error_message(response))
        if response.status_code not in (200, 201):
            _log.error("content_service_failed", status=response.status_code)
            raise ContentServiceUnavailableError(f"content_service answered {response.status_code}")
        try:
            content_id = response.json()["content_id"]
        except (ValueError, KeyError, TypeError) as error:
            raise ContentServiceUnavailableError(
                "content_service answered without an id"
            ) from error
        if not isinstance(content_id, str) or not _CONTENT_ID.fullmatch(content_id):
            raise ContentServiceUnavailableError("content_service answered a malformed id")
        return content_id


def _error_message(response: httpx.Response) -> str:
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else f"content_service answered {response.status_code}"
