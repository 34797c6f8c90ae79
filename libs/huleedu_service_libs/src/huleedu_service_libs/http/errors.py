"""Every HTTP error leaves a service as one `ErrorDetail` JSON body, counted by its code."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError
from quart import (
    Quart,
    Response,
    current_app,
    g,
    has_app_context,
    has_request_context,
    jsonify,
    request,
)
from quart_schema import RequestSchemaValidationError
from quart_schema.validation import QuerystringValidationError, RequestHeadersValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from common_core.errors import ErrorCode, ErrorDetail
from huleedu_service_libs import metrics
from huleedu_service_libs.logging import get_logger

_log = get_logger(__name__)
_ERRORS_COUNTER = "huleedu_http_errors"  # the app's counter, in `app.extensions`

_CODE_FOR_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    # common_core has no method_not_allowed code: the route exists only for other methods.
    405: ErrorCode.NOT_FOUND,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
    504: ErrorCode.TIMEOUT,
}


class HttpError(Exception):
    """Raised by handlers to answer with `status` and an `ErrorDetail` of `code`."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


def count_errors(app: Quart, registry: CollectorRegistry) -> Counter:
    """Count every `error_response` the app sends in `huleedu_http_errors_total`."""
    errors_total = metrics.counter(
        "huleedu_http_errors_total",
        "ErrorDetail responses sent, by error code and HTTP status.",
        ("service", "code", "status"),
        registry=registry,
    )
    app.extensions[_ERRORS_COUNTER] = errors_total
    # Present from the start, so the first unexpected error is an increase from 0.
    errors_total.labels(str(app.config["SERVICE_NAME"]), ErrorCode.INTERNAL_ERROR.value, "500")
    return errors_total


def error_response(
    status: int, code: ErrorCode, message: str, details: Mapping[str, Any] | None = None
) -> Response:
    """The JSON error body every service returns, tagged with the request's correlation id."""
    correlation_id: UUID | None = None
    operation: str | None = None
    if has_request_context():
        correlation_id = g.get("correlation_id")
        operation = request.endpoint
    detail = ErrorDetail(
        code=code,
        message=message,
        service=_service_name(),
        operation=operation,
        correlation_id=correlation_id,
        details=dict(details or {}),
    )
    response = jsonify(detail.model_dump(mode="json"))
    response.status_code = status
    if has_app_context():
        errors_total: Counter | None = current_app.extensions.get(_ERRORS_COUNTER)
        if errors_total is not None:
            errors_total.labels(detail.service, code.value, str(status)).inc()
    return response


def register_error_handlers(app: Quart) -> None:
    app.register_error_handler(HttpError, _handle_http_error)
    app.register_error_handler(RequestSchemaValidationError, _handle_validation_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(UnicodeDecodeError, _handle_undecodable_body)
    app.register_error_handler(Exception, _handle_unexpected)


def _service_name() -> str:
    return str(current_app.config.get("SERVICE_NAME", current_app.name))


async def _handle_http_error(error: HttpError) -> Response:
    return error_response(error.status, error.code, error.message, error.details)


async def _handle_validation_error(error: RequestSchemaValidationError) -> Response:
    source = "body"
    if isinstance(error, QuerystringValidationError):
        source = "query"
    elif isinstance(error, RequestHeadersValidationError):
        source = "headers"
    cause = error.validation_error
    if isinstance(cause, ValidationError):
        # Input values are left out: they may hold what the client should not see echoed.
        errors: list[Any] = json.loads(
            cause.json(include_url=False, include_context=False, include_input=False)
        )
    else:
        errors = [{"loc": [], "msg": str(cause) or "expected a JSON object", "type": "invalid"}]
    return error_response(
        400,
        ErrorCode.VALIDATION_ERROR,
        f"request {source} failed validation",
        {"source": source, "errors": errors},
    )


async def _handle_http_exception(error: HTTPException) -> Response | HTTPException:
    status = error.code
    if status is None or status < 400:
        return error  # redirects (e.g. a missing trailing slash) pass through unchanged
    details: dict[str, Any] = {}
    if isinstance(error, NotFound) and request.url_rule is None:
        message = f"no route {request.method} {request.path}"
    elif isinstance(error, MethodNotAllowed):
        message = f"method {request.method} not allowed on {request.path}"
        details["allowed_methods"] = sorted(error.valid_methods or ())
    else:
        message = error.description or error.name
    code = _CODE_FOR_STATUS.get(
        status, ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.VALIDATION_ERROR
    )
    return error_response(status, code, message, details)


async def _handle_undecodable_body(_error: UnicodeDecodeError) -> Response:
    """A body that is not valid UTF-8 is the client's mistake, not a server fault."""
    return error_response(400, ErrorCode.VALIDATION_ERROR, "request body is not valid UTF-8")


async def _handle_unexpected(error: Exception) -> Response:
    _log.error("unhandled_error", error_type=type(error).__name__, exc_info=error)
    return error_response(500, ErrorCode.INTERNAL_ERROR, "internal server error")
