"""structlog JSON logging with the context every line must carry."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

# Context keys bound per request or per consumed event (structlog contextvars).
CONTEXT_KEYS = ("correlation_id", "event_id", "batch_id", "trace_id", "span_id")


def configure_logging(
    service_name: str, *, environment: str = "development", level: str = "INFO", json: bool = True
) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _static_fields(service_name, environment),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stdout, format="%(message)s", force=True)


def _static_fields(service_name: str, environment: str) -> Any:
    def add(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", service_name)
        event_dict.setdefault("environment", environment)
        return event_dict

    return add


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
