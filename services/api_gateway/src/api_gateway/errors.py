"""Errors whose responses carry headers the client acts on (`WWW-Authenticate`, `Retry-After`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Response

from common_core.errors import ErrorCode
from huleedu_service_libs.http import HttpError, error_response


class HeaderedHttpError(HttpError):
    """An `HttpError` answered with the usual `ErrorDetail` body plus response headers."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        headers: Mapping[str, str],
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(status, code, message, details)
        self.headers = dict(headers)


async def answer_with_headers(error: HeaderedHttpError) -> Response:
    response = error_response(error.status, error.code, error.message, error.details)
    response.headers.update(error.headers)
    return response
