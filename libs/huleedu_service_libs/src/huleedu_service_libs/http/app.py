"""The one Quart app factory: health, metrics, errors, correlation ids and OpenAPI for free.

A service writes its routes in blueprints with pydantic models (quart-schema's
`validate_request`/`validate_response`) and hands them to `create_app`; everything operators
and other services rely on is the same everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from uuid import UUID, uuid4

import structlog
from dishka import AsyncContainer
from prometheus_client import REGISTRY, CollectorRegistry
from quart import Blueprint, Quart, Response, g, jsonify, request
from quart_schema import Info, QuartSchema, hide

from huleedu_service_libs import metrics
from huleedu_service_libs.http.errors import count_errors, register_error_handlers
from huleedu_service_libs.http.injection import setup_dishka
from huleedu_service_libs.http.readiness import ReadinessCheck, run_checks
from huleedu_service_libs.logging import get_logger, trace_context
from huleedu_service_libs.settings import ServiceSettings

CORRELATION_ID_HEADER = "X-Correlation-ID"
UNMATCHED_ROUTE = "<unmatched>"
_UNLOGGED_ROUTES = frozenset({"/healthz/live", "/healthz/ready", "/metrics", "/openapi.json"})

_log = get_logger(__name__)


def create_app(
    settings: ServiceSettings,
    *,
    title: str,
    version: str = "1.0.0",
    readiness_checks: Sequence[ReadinessCheck] = (),
    container: AsyncContainer | None = None,
    blueprints: Sequence[Blueprint] = (),
    registry: CollectorRegistry = REGISTRY,
) -> Quart:
    """A Quart app for `settings.service_name` with the platform's operational surface.

    With a `container`, each request gets a dishka REQUEST scope and views in `blueprints`
    receive `FromDishka[T]` parameters; the container is closed when the app stops serving.
    """
    app = Quart(settings.service_name)
    app.config["SERVICE_NAME"] = settings.service_name
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info=Info(title=title, version=version),
    )
    _install_request_context(app, settings.service_name, registry)
    register_error_handlers(app)
    count_errors(app, registry)
    app.register_blueprint(_operational_blueprint(readiness_checks, registry))
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    if container is not None:
        setup_dishka(container, app)
    return app


def _operational_blueprint(
    readiness_checks: Sequence[ReadinessCheck], registry: CollectorRegistry
) -> Blueprint:
    blueprint = Blueprint("operational", __name__)
    checks = tuple(readiness_checks)

    @blueprint.get("/healthz/live")
    @hide
    async def live() -> Response:
        return jsonify({"status": "live"})

    @blueprint.get("/healthz/ready")
    @hide
    async def ready() -> Response:
        outcomes = await run_checks(checks)
        is_ready = all(outcome == "ok" for outcome in outcomes.values())
        response = jsonify({"status": "ready" if is_ready else "not_ready", "checks": outcomes})
        response.status_code = 200 if is_ready else 503
        return response

    @blueprint.get("/metrics")
    @hide
    async def metrics_endpoint() -> Response:
        return metrics.metrics_response(registry)

    return blueprint


def _install_request_context(app: Quart, service: str, registry: CollectorRegistry) -> None:
    """Correlation id and trace bound for the request's logs; counted and timed by route rule."""
    requests_total = metrics.counter(
        "huleedu_http_requests_total",
        "HTTP requests answered, by route rule and status.",
        ("service", "method", "route", "status"),
        registry=registry,
    )
    request_seconds = metrics.histogram(
        "huleedu_http_request_duration_seconds",
        "Time to answer an HTTP request, by route rule.",
        ("service", "method", "route"),
        registry=registry,
    )

    async def bind_request_context() -> None:
        correlation_id = _correlation_id(request.headers.get(CORRELATION_ID_HEADER))
        g.correlation_id = correlation_id
        g.request_started = time.perf_counter()
        g.context_tokens = structlog.contextvars.bind_contextvars(
            correlation_id=str(correlation_id),
            **trace_context(request.headers.get("traceparent")),
        )

    async def observe_response(response: Response) -> Response:
        correlation_id = g.get("correlation_id")
        if correlation_id is not None:
            response.headers[CORRELATION_ID_HEADER] = str(correlation_id)
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
        started = g.get("request_started")
        elapsed = time.perf_counter() - started if started is not None else 0.0
        requests_total.labels(service, request.method, route, str(response.status_code)).inc()
        request_seconds.labels(service, request.method, route).observe(elapsed)
        if route not in _UNLOGGED_ROUTES:
            _log.info(
                "http_request",
                method=request.method,
                route=route,
                status=response.status_code,
                duration_ms=round(elapsed * 1000, 1),
            )
        return response

    async def unbind_request_context(_exc: BaseException | None) -> None:
        tokens = g.pop("context_tokens", None)
        if tokens is not None:
            structlog.contextvars.reset_contextvars(**tokens)

    app.before_request(bind_request_context)
    app.after_request(observe_response)
    app.teardown_request(unbind_request_context)


def _correlation_id(header: str | None) -> UUID:
    """The caller's id when it is a UUID; otherwise a new one (events need a UUID)."""
    if header:
        try:
            return UUID(header.strip())
        except ValueError:
            _log.warning("correlation_id_rejected", received=header[:100])
    return uuid4()
