"""What every /v1 request passes before its view runs: a valid token, then the rate limits.

Authentication comes first so that nothing about the request (not even whether its body is
valid) is revealed to a caller without a token, and so that limits are counted per teacher.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from dishka import AsyncContainer
from quart import Blueprint, g, request
from quart_schema import document_response, security_scheme_blueprint

from api_gateway.auth import AuthenticatedTeacher
from api_gateway.clients import BatchOrchestratorClient, BatchView
from api_gateway.errors import HeaderedHttpError
from api_gateway.openapi import BEARER_SCHEME
from api_gateway.rate_limit import RateLimit, RateLimiter
from api_gateway.settings import GatewaySettings
from common_core.errors import ErrorCode, ErrorDetail
from huleedu_service_libs.http import HttpError

FuncT = TypeVar("FuncT", bound=Callable[..., Any])

RateLimitsFor = Callable[[GatewaySettings], Sequence[RateLimit]]


def request_limit(settings: GatewaySettings) -> list[RateLimit]:
    return [RateLimit("requests", settings.rate_limit_requests, settings.rate_limit_window_ms)]


def upload_limits(settings: GatewaySettings) -> list[RateLimit]:
    return [
        *request_limit(settings),
        RateLimit("uploads", settings.rate_limit_uploads, settings.rate_limit_window_ms),
    ]


def protect(blueprint: Blueprint, rate_limits: RateLimitsFor, *, json_bodies: bool) -> None:
    """Require a bearer token and apply `rate_limits` on every route of `blueprint`.

    With `json_bodies`, a body over `max_json_body_bytes` (the app-wide limit is sized for
    uploads) or not in UTF-8 is refused before the view reads it.
    """
    security_scheme_blueprint(blueprint, [{BEARER_SCHEME: []}])

    @blueprint.before_request
    async def authenticate_and_limit() -> None:
        container: AsyncContainer = g.dishka_container
        teacher = await container.get(AuthenticatedTeacher)
        settings = await container.get(GatewaySettings)
        limiter = await container.get(RateLimiter)
        for limit in rate_limits(settings):
            decision = await limiter.hit(limit, teacher.teacher_id)
            if not decision.allowed:
                raise HeaderedHttpError(
                    429,
                    ErrorCode.RATE_LIMITED,
                    f"too many requests: at most {limit.limit} per {limit.window_ms / 1000:g} s",
                    headers={"Retry-After": str(decision.retry_after_seconds)},
                    details={
                        "limit": limit.name,
                        "retry_after_seconds": decision.retry_after_seconds,
                    },
                )
        if json_bodies:
            await _check_body(settings.max_json_body_bytes)


async def _check_body(limit_bytes: int) -> None:
    """Refuse a body that is too large or not UTF-8 text before a view parses it.

    A declared length is checked before reading; a chunked body is measured once read (and
    cached for the view), bounded meanwhile by the app-wide upload limit. Quart decodes JSON
    bodies as UTF-8 without handling failure, which would otherwise surface as a 500.
    """
    too_large = HttpError(
        413, ErrorCode.PAYLOAD_TOO_LARGE, f"request body exceeds {limit_bytes} bytes"
    )
    if (request.content_length or 0) > limit_bytes:
        raise too_large
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    data = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    if len(data) > limit_bytes:
        raise too_large
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HttpError(
            400, ErrorCode.VALIDATION_ERROR, "request body is not UTF-8 text"
        ) from error


def documents_errors(*statuses: int) -> Callable[[FuncT], FuncT]:
    """Put the `ErrorDetail` answers a route can give into the OpenAPI document."""

    def decorate(func: FuncT) -> FuncT:
        for status in (401, 429, *statuses):
            func = document_response(ErrorDetail, status)(func)
        return func

    return decorate


async def owned_batch(
    batches: BatchOrchestratorClient, batch_id: UUID, teacher: AuthenticatedTeacher
) -> BatchView:
    """The teacher's batch, read from BOS."""
    return require_owner(await batches.batch(batch_id), batch_id, teacher)


def require_owner(
    batch: BatchView | None, batch_id: UUID, teacher: AuthenticatedTeacher
) -> BatchView:
    """Another teacher's batch is indistinguishable from none: 404, never 403."""
    if batch is None or batch.user_id != teacher.teacher_id:
        raise HttpError(404, ErrorCode.NOT_FOUND, "no such batch", {"batch_id": str(batch_id)})
    return batch
