"""Every registered event survives encode → decode byte-exact; bad input is rejected.

Payloads are generated from the contracts themselves (field types and constraints), so a
new field or constraint is covered without touching this file. Cross-field rules that random
data would almost never satisfy have their own strategies below.
"""

from __future__ import annotations

import json
import types
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, ValidationError

from common_core.errors import ErrorDetail
from common_core.events import (
    REGISTRY,
    AssessmentResult,
    BatchContentProvisioningCompleted,
    BatchEssaysRegistered,
    BatchPipelineCompleted,
    ClientBatchPipelineRequest,
    ComparisonWinner,
    ContentId,
    EssayAssessmentResult,
    EventEnvelope,
    EventMetadata,
    EventSpec,
    LLMComparisonResult,
    PhaseSummary,
    SpellcheckCorrection,
    SpellcheckResult,
    UnknownEventTypeError,
    encode,
    to_json_dict,
)

MAX_LIST = 4
MAX_TEXT = 40

AWARE_DATETIMES = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=9, minutes=30))]
    ),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def for_annotation(annotation: Any, metadata: tuple[Any, ...] = ()) -> st.SearchStrategy[Any]:
    """Values a pydantic field of this annotation (and these constraints) accepts."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return for_annotation(args[0], (*metadata, *annotation.__metadata__))
    if origin in (Union, types.UnionType):
        return st.one_of([for_annotation(arg, metadata) for arg in args])
    if origin is Literal:
        return st.sampled_from(args)
    bound = _bounds(metadata)
    if origin is list:
        low = bound.get("min_length", 0)
        high = min(bound.get("max_length", MAX_LIST), max(low, MAX_LIST))
        return st.lists(for_annotation(args[0]), min_size=low, max_size=high)
    if origin is dict:
        return st.dictionaries(for_annotation(args[0]), for_annotation(args[1]), max_size=3)
    if annotation is type(None):
        return st.none()
    if annotation is Any:
        return JSON_VALUES
    if isinstance(annotation, type):
        return _for_class(annotation, bound)
    raise NotImplementedError(f"no strategy for {annotation!r}")


def _bounds(metadata: tuple[Any, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern"):
            value = getattr(item, name, None)
            if value is not None:
                found[name] = value
    return found


def _for_class(cls: type, bound: dict[str, Any]) -> st.SearchStrategy[Any]:
    if issubclass(cls, BaseModel):
        return st.deferred(lambda: for_model(cls))
    if issubclass(cls, Enum):
        return st.sampled_from(list(cls))
    if cls is bool:
        return st.booleans()
    if cls is int:
        return st.integers(
            min_value=bound.get("ge", bound["gt"] + 1 if "gt" in bound else None),
            max_value=bound.get("le", bound["lt"] - 1 if "lt" in bound else None),
        )
    if cls is float:
        return st.floats(
            min_value=bound.get("ge", bound.get("gt")),
            max_value=bound.get("le", bound.get("lt")),
            exclude_min="gt" in bound,
            exclude_max="lt" in bound,
            allow_nan=False,
            allow_infinity=False,
        )
    if cls is Decimal:
        return st.decimals(
            min_value=bound.get("ge"), max_value=bound.get("le"), allow_nan=False, places=6
        )
    if cls is str:
        if "pattern" in bound:
            return st.from_regex(bound["pattern"], fullmatch=True)
        low = bound.get("min_length", 0)
        return st.text(min_size=low, max_size=min(bound.get("max_length", MAX_TEXT), MAX_TEXT))
    if cls is UUID:
        return st.uuids()
    if cls in (datetime, AwareDatetime):
        return AWARE_DATETIMES
    raise NotImplementedError(f"no strategy for {cls!r}")


def fields(model: type[BaseModel], **overrides: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Keyword arguments for `model`, every field present, some strategies overridden."""
    return st.fixed_dictionaries(
        {
            name: overrides[name]
            if name in overrides
            else for_annotation(info.rebuild_annotation())
            for name, info in model.model_fields.items()
        }
    )


def _valid(model: type[BaseModel]) -> Callable[[dict[str, Any]], Any]:
    def build(kwargs: dict[str, Any]) -> Any:
        try:
            return model(**kwargs)
        except ValidationError:
            return None  # a rare cross-field clash, e.g. the same uuid drawn twice

    return build


def for_model(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    special = SPECIAL.get(model)
    kwargs = special() if special else fields(model)
    return kwargs.map(_valid(model)).filter(lambda value: value is not None)


def _registered() -> st.SearchStrategy[dict[str, Any]]:
    ids = st.lists(st.uuids(), min_size=1, max_size=MAX_LIST, unique=True)
    return fields(BatchEssaysRegistered, essay_ids=ids).map(
        lambda kw: {**kw, "expected_essay_count": len(kw["essay_ids"])}
    )


@st.composite
def _provisioning_counts(draw: st.DrawFn) -> dict[str, Any]:
    kwargs: dict[str, Any] = draw(fields(BatchContentProvisioningCompleted))
    expected = draw(st.integers(1, 500))
    provisioned = draw(st.integers(0, expected))
    failed = draw(st.integers(0, expected - provisioned))
    return {
        **kwargs,
        "expected_essay_count": expected,
        "provisioned_count": provisioned,
        "failed_count": failed,
    }


@st.composite
def _correction(draw: st.DrawFn) -> dict[str, Any]:
    kwargs: dict[str, Any] = draw(fields(SpellcheckCorrection))
    return {**kwargs, "end": kwargs["start"] + draw(st.integers(0, 50))}


def _spellcheck_result() -> st.SearchStrategy[dict[str, Any]]:
    corrections = st.lists(for_model(SpellcheckCorrection), max_size=MAX_LIST)
    succeeded = fields(
        SpellcheckResult,
        corrected_text_id=for_annotation(ContentId),
        corrections=corrections,
        error=st.none(),
    ).map(lambda kw: {**kw, "error_counts": dict(Counter(c.category for c in kw["corrections"]))})
    failed = fields(
        SpellcheckResult,
        corrected_text_id=st.none(),
        error_counts=st.just({}),
        corrections=st.just([]),
        error=for_model(ErrorDetail),
    )
    return succeeded | failed


def _comparison_result() -> st.SearchStrategy[dict[str, Any]]:
    verdict = fields(LLMComparisonResult, winner=st.sampled_from(ComparisonWinner), error=st.none())
    error = fields(LLMComparisonResult, winner=st.none(), error=for_model(ErrorDetail))
    return verdict | error


def _assessment_result() -> st.SearchStrategy[dict[str, Any]]:
    essays = st.lists(
        for_model(EssayAssessmentResult),
        min_size=1,
        max_size=MAX_LIST,
        unique_by=attrgetter("essay_id"),
    )
    ranked = essays.flatmap(
        lambda items: st.permutations(range(1, len(items) + 1)).map(
            lambda ranks: [
                e.model_copy(update={"rank": r}) for e, r in zip(items, ranks, strict=True)
            ]
        )
    )
    return fields(AssessmentResult, essays=ranked)


def _pipeline_completed() -> st.SearchStrategy[dict[str, Any]]:
    phases = st.lists(
        for_model(PhaseSummary), min_size=1, max_size=2, unique_by=attrgetter("phase")
    )
    return fields(BatchPipelineCompleted, phases=phases)


SPECIAL: dict[type[BaseModel], Callable[[], st.SearchStrategy[dict[str, Any]]]] = {
    BatchEssaysRegistered: _registered,
    BatchContentProvisioningCompleted: _provisioning_counts,
    SpellcheckCorrection: _correction,
    SpellcheckResult: _spellcheck_result,
    LLMComparisonResult: _comparison_result,
    AssessmentResult: _assessment_result,
    BatchPipelineCompleted: _pipeline_completed,
}

SPECS = list(REGISTRY)
ROUND_TRIP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _envelope_for(data: BaseModel, draws: st.DataObject) -> EventEnvelope[Any]:
    draw = draws.draw
    envelope_type: Any = EventEnvelope[type(data)]  # type: ignore[misc]
    envelope: EventEnvelope[Any] = envelope_type(
        event_id=draw(st.uuids()),
        event_type=REGISTRY.spec_for_model(type(data)).event_type,
        event_timestamp=draw(AWARE_DATETIMES),
        source_service=draw(st.text(min_size=1, max_size=20)),
        correlation_id=draw(st.uuids()),
        data=data,
        metadata=EventMetadata(
            traceparent=draw(st.none() | st.text(max_size=55)),
            tracestate=draw(st.none() | st.text(max_size=20)),
        ),
    )
    return envelope


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.event_type)
@ROUND_TRIP
@given(data=st.data())
def test_round_trip_is_byte_exact(spec: EventSpec, data: st.DataObject) -> None:
    payload = data.draw(for_model(spec.data_model), label="payload")
    envelope = _envelope_for(payload, data)
    wire = encode(envelope)

    decoded = REGISTRY.decode(wire)

    assert type(decoded.data) is spec.data_model
    assert decoded.data == payload
    assert decoded.event_id == envelope.event_id
    assert encode(decoded) == wire
    assert encode(REGISTRY.decode(to_json_dict(envelope))) == wire
    assert encode(REGISTRY.decode(wire.decode())) == wire
    assert spec.key_for(decoded.data) == str(payload.batch_id)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.event_type)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_a_payload_breaking_its_contract_is_rejected(spec: EventSpec, data: st.DataObject) -> None:
    payload = data.draw(for_model(spec.data_model), label="payload")
    message = to_json_dict(REGISTRY.envelope(payload, source_service="test"))

    wrong_type = {**message, "data": {**message["data"], "batch_id": "not-a-uuid"}}
    with pytest.raises(ValidationError):
        REGISTRY.decode(wrong_type)

    for name, info in spec.data_model.model_fields.items():
        if info.is_required():
            missing = {k: v for k, v in message["data"].items() if k != name}
            with pytest.raises(ValidationError):
                REGISTRY.decode({**message, "data": missing})


def _valid_message() -> dict[str, Any]:
    payload = ClientBatchPipelineRequest(
        batch_id=uuid4(), requested_pipeline="spellcheck", user_id="teacher-1"
    )
    return to_json_dict(REGISTRY.envelope(payload, source_service="api_gateway"))


@pytest.mark.parametrize(
    "raw",
    [b"", b"{not json", b"[]", b"null", b'{"event_type": "pipeline.requested"}'],
    ids=["empty", "broken", "array", "null", "no-envelope"],
)
def test_malformed_json_is_rejected(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        REGISTRY.decode(raw)


def test_an_unknown_event_type_is_rejected() -> None:
    message = {**_valid_message(), "event_type": "pipeline.exploded"}
    with pytest.raises(UnknownEventTypeError):
        REGISTRY.decode(json.dumps(message).encode())


def test_the_valid_message_used_above_decodes() -> None:
    assert REGISTRY.decode(json.dumps(_valid_message()).encode()).event_type == (
        "pipeline.requested"
    )


def test_a_timestamp_without_offset_is_rejected() -> None:
    message = {**_valid_message(), "event_timestamp": "2025-01-01T12:00:00"}
    with pytest.raises(ValidationError):
        REGISTRY.decode(message)
