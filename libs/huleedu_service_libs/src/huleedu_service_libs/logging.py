"""structlog JSON logging with the context every line must carry (invariant 8).

Request handlers and event handlers bind `correlation_id`, `event_id`, `batch_id`, `trace_id`
and `span_id` in structlog's contextvars; every log line and every event produced inside that
context picks them up without passing them around.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import structlog
from pydantic import BaseModel

from common_core.events.envelope import EventEnvelope, RawEnvelope

# Context keys bound per request or per consumed event (structlog contextvars).
CONTEXT_KEYS = ("correlation_id", "event_id", "batch_id", "trace_id", "span_id")

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16


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
        logger_factory=structlog.PrintLoggerFactory(_CURRENT_STDOUT),
        cache_logger_on_first_use=True,
    )
    # Libraries log through the stdlib (hypercorn, aiokafka, httpx): render them the same way,
    # so every line a process writes is one JSON object with the same context.
    handler = logging.StreamHandler(_CURRENT_STDOUT)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # One line per outgoing request is noise at INFO; failures still surface as warnings.
    logging.getLogger("httpx").setLevel(logging.WARNING)


class _CurrentStdout:
    """Writes to whatever `sys.stdout` is at the time of writing.

    Binding the stream object at configure time breaks when it is later replaced and closed
    (pytest's capture does this between test phases): every log line would then raise.
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


_CURRENT_STDOUT: Any = _CurrentStdout()


def _static_fields(service_name: str, environment: str) -> Any:
    def add(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", service_name)
        event_dict.setdefault("environment", environment)
        return event_dict

    return add


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def current_correlation_id() -> UUID:
    """The correlation id of the request or event being handled, to pass into produced events.

    Raises LookupError outside a request or `bind_event_context`, because silently minting a
    new id would break the chain the id exists for.
    """
    value = structlog.contextvars.get_contextvars().get("correlation_id")
    if value is None:
        raise LookupError("no correlation id bound: not inside a request or an event handler")
    return value if isinstance(value, UUID) else UUID(str(value))


def parse_traceparent(traceparent: str | None) -> tuple[str, str] | None:
    """`(trace_id, parent span id)` of a W3C traceparent, or None when absent or malformed."""
    if not traceparent:
        return None
    match = _TRACEPARENT.match(traceparent.strip().lower())
    if match is None:
        return None
    version, trace_id, span_id, _flags = match.groups()
    if version == "ff" or trace_id == _INVALID_TRACE_ID or span_id == _INVALID_SPAN_ID:
        return None
    return trace_id, span_id


def new_traceparent() -> str:
    """A traceparent that starts a new, sampled trace."""
    return _format_traceparent(secrets.token_hex(16))


def traceparent_for_current_context() -> str:
    """A traceparent for an outgoing event or call: the bound trace continued, or a new one.

    The parent id is fresh so each outgoing message is its own span of the bound trace.
    """
    trace_id = structlog.contextvars.get_contextvars().get("trace_id")
    if isinstance(trace_id, str) and re.fullmatch(r"[0-9a-f]{32}", trace_id):
        return _format_traceparent(trace_id)
    return new_traceparent()


def _format_traceparent(trace_id: str) -> str:
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def trace_context(traceparent: str | None) -> dict[str, str]:
    """`trace_id`/`span_id` to bind: taken from a valid traceparent, else a new trace."""
    parsed = parse_traceparent(traceparent)
    if parsed is None:
        return {"trace_id": secrets.token_hex(16), "span_id": secrets.token_hex(8)}
    return {"trace_id": parsed[0], "span_id": parsed[1]}


@contextmanager
def bind_event_context(envelope: EventEnvelope[Any] | RawEnvelope) -> Iterator[None]:
    """Bind the consumed event's identity and trace to every log line inside the block."""
    context: dict[str, Any] = {
        "correlation_id": str(envelope.correlation_id),
        "event_id": str(envelope.event_id),
        **trace_context(envelope.metadata.traceparent),
    }
    batch_id = _batch_id(envelope.data)
    if batch_id is not None:
        context["batch_id"] = str(batch_id)
    with structlog.contextvars.bound_contextvars(**context):
        yield


def _batch_id(data: BaseModel | Mapping[str, Any]) -> Any:
    if isinstance(data, Mapping):
        return data.get("batch_id")
    return getattr(data, "batch_id", None)
