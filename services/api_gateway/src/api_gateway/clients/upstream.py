"""Calling another service: correlation id and trace forwarded, failures turned into answers.

A service that cannot be reached or fails (5xx) becomes 503 `service_unavailable` (504
`timeout` when it is too slow); the teacher sees that the platform is degraded, never an
internal detail. A 4xx answer is the caller's problem and is passed through with the
upstream's own `ErrorDetail`, so the teacher reads e.g. file_service's reason unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from quart import Response, jsonify

from common_core.errors import ErrorCode, ErrorDetail
from huleedu_service_libs.http import CORRELATION_ID_HEADER, HttpError
from huleedu_service_libs.logging import (
    current_correlation_id,
    get_logger,
    traceparent_for_current_context,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

_log = get_logger(__name__)

_CODE_FOR_STATUS = {
    404: ErrorCode.NOT_FOUND,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
}


class UpstreamError(Exception):
    """A 4xx from an upstream service, answered to the client as the upstream said it."""

    def __init__(self, status: int, detail: ErrorDetail) -> None:
        super().__init__(detail.message)
        self.status = status
        self.detail = detail


async def answer_upstream_error(error: UpstreamError) -> Response:
    response = jsonify(error.detail.model_dump(mode="json"))
    response.status_code = error.status
    return response


class UpstreamClient:
    """One upstream service on the process's shared `httpx.AsyncClient`."""

    def __init__(
        self, http: httpx.AsyncClient, *, service: str, base_url: str, timeout: float
    ) -> None:
        self._http = http
        self.service = service
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    async def request(
        self,
        method: str,
        path: str,
        *,
        passthrough: Collection[int] = (),
        timeout_seconds: float | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """The upstream's 2xx answer (or one whose status is in `passthrough`)."""
        try:
            response = await self._http.request(
                method,
                f"{self._base_url}{path}",
                headers={**_context_headers(), **(headers or {})},
                timeout=timeout_seconds or self._timeout,
                **kwargs,
            )
        except httpx.TimeoutException as error:
            _log.warning("upstream_timeout", upstream=self.service, path=path, error=repr(error))
            raise HttpError(
                504, ErrorCode.TIMEOUT, f"{self.service} did not answer in time"
            ) from error
        except httpx.TransportError as error:
            _log.warning(
                "upstream_unreachable", upstream=self.service, path=path, error=repr(error)
            )
            raise self.unavailable() from error
        if response.status_code in passthrough or response.is_success:
            return response
        if response.status_code >= 500 or response.status_code < 400:
            _log.error(
                "upstream_failed",
                upstream=self.service,
                path=path,
                status=response.status_code,
                body=response.text[:500],
            )
            raise self.unavailable()
        raise UpstreamError(response.status_code, self._error_detail(response))

    def parse(self, model: type[ModelT], response: httpx.Response) -> ModelT:
        """The upstream's body as `model`; a body breaking the contract is the upstream's fault."""
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            _log.error(
                "upstream_contract_violated",
                upstream=self.service,
                model=model.__name__,
                errors=error.errors(include_input=False, include_url=False),
            )
            raise HttpError(
                502,
                ErrorCode.SERVICE_UNAVAILABLE,
                f"{self.service} answered in an unexpected form",
            ) from error

    def unavailable(self) -> HttpError:
        return HttpError(503, ErrorCode.SERVICE_UNAVAILABLE, f"{self.service} is unavailable")

    def _error_detail(self, response: httpx.Response) -> ErrorDetail:
        try:
            return ErrorDetail.model_validate_json(response.content)
        except ValidationError:
            return ErrorDetail(
                code=_CODE_FOR_STATUS.get(response.status_code, ErrorCode.VALIDATION_ERROR),
                message=f"{self.service} refused the request ({response.status_code})",
                service=self.service,
            )


def _context_headers() -> dict[str, str]:
    headers = {"traceparent": traceparent_for_current_context()}
    with contextlib.suppress(LookupError):  # outside a request there is no id to pass on
        headers[CORRELATION_ID_HEADER] = str(current_correlation_id())
    return headers
