"""Event context bound for logs, and W3C traceparents for what a handler produces."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from uuid import uuid4

import pytest
import structlog
from pydantic import BaseModel

from common_core.events.envelope import EventEnvelope, EventMetadata, RawEnvelope
from huleedu_service_libs.logging import (
    bind_event_context,
    configure_logging,
    current_correlation_id,
    get_logger,
    new_traceparent,
    parse_traceparent,
    traceparent_for_current_context,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class EssayScored(BaseModel):
    batch_id: str
    essay_id: str


class Heartbeat(BaseModel):
    beat: int


def envelope_of(data: BaseModel, traceparent: str | None = None) -> EventEnvelope[BaseModel]:
    return EventEnvelope[BaseModel](
        event_type=type(data).__name__,
        source_service="test",
        data=data,
        metadata=EventMetadata(traceparent=traceparent),
    )


def test_event_context_is_bound_inside_and_removed_after() -> None:
    envelope = envelope_of(EssayScored(batch_id="b-7", essay_id="e-1"), TRACEPARENT)

    with bind_event_context(envelope):
        bound = structlog.contextvars.get_contextvars()
        assert bound["correlation_id"] == str(envelope.correlation_id)
        assert bound["event_id"] == str(envelope.event_id)
        assert bound["batch_id"] == "b-7"
        assert bound["trace_id"] == TRACE_ID
        assert bound["span_id"] == PARENT_ID
        assert current_correlation_id() == envelope.correlation_id

    assert "event_id" not in structlog.contextvars.get_contextvars()
    with pytest.raises(LookupError):
        current_correlation_id()


def test_raw_envelope_batch_id_comes_from_its_data_and_is_optional() -> None:
    typed = envelope_of(Heartbeat(beat=1))
    raw = RawEnvelope.model_validate({**typed.model_dump(mode="json"), "data": {"batch_id": "b-9"}})
    with bind_event_context(raw):
        assert structlog.contextvars.get_contextvars()["batch_id"] == "b-9"
    with bind_event_context(typed):
        assert "batch_id" not in structlog.contextvars.get_contextvars()


def test_nested_contexts_restore_the_outer_one() -> None:
    outer = envelope_of(EssayScored(batch_id="outer", essay_id="e"))
    inner = envelope_of(EssayScored(batch_id="inner", essay_id="e"))
    with bind_event_context(outer):
        with bind_event_context(inner):
            assert structlog.contextvars.get_contextvars()["batch_id"] == "inner"
        assert structlog.contextvars.get_contextvars()["batch_id"] == "outer"


def test_outgoing_traceparent_continues_the_bound_trace_with_a_new_span() -> None:
    with bind_event_context(envelope_of(Heartbeat(beat=1), TRACEPARENT)):
        first = parse_traceparent(traceparent_for_current_context())
        second = parse_traceparent(traceparent_for_current_context())
    assert first is not None
    assert second is not None
    assert first[0] == second[0] == TRACE_ID
    assert PARENT_ID not in (first[1], second[1])
    assert first[1] != second[1]


def test_events_without_a_valid_traceparent_start_a_trace() -> None:
    for traceparent in (None, "garbage", f"00-{'0' * 32}-{PARENT_ID}-01"):
        with bind_event_context(envelope_of(Heartbeat(beat=1), traceparent)):
            trace_id = structlog.contextvars.get_contextvars()["trace_id"]
            produced = parse_traceparent(traceparent_for_current_context())
        assert produced is not None
        assert produced[0] == trace_id != "0" * 32


def test_new_traceparents_are_valid_and_distinct() -> None:
    first, second = new_traceparent(), new_traceparent()
    assert parse_traceparent(first) is not None
    assert first.startswith("00-")
    assert first.endswith("-01")
    assert parse_traceparent(first) != parse_traceparent(second)
    assert parse_traceparent(f"ff-{TRACE_ID}-{PARENT_ID}-01") is None
    assert parse_traceparent(f"00-{TRACE_ID}-{'0' * 16}-01") is None


@pytest.fixture
def json_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """configure_logging for one test (writing into capsys), put back afterwards."""
    saved_config = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging("ctx-test", environment="test")
    yield
    structlog.configure(**saved_config)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


@pytest.mark.usefixtures("json_logging")
def test_json_log_lines_carry_the_event_context(capsys: pytest.CaptureFixture[str]) -> None:
    envelope = envelope_of(EssayScored(batch_id="b-42", essay_id="e"), TRACEPARENT)
    with bind_event_context(envelope):
        get_logger("ctx").info("essay_scored", essay_id="e")

    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "essay_scored"
    assert line["service"] == "ctx-test"
    assert line["correlation_id"] == str(envelope.correlation_id)
    assert line["event_id"] == str(envelope.event_id)
    assert line["batch_id"] == "b-42"
    assert line["trace_id"] == TRACE_ID


def test_correlation_ids_bound_by_others_are_read_as_uuids() -> None:
    correlation_id = uuid4()
    with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
        assert current_correlation_id() == correlation_id
