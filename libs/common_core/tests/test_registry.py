"""The registry names every event of the main flow once, by the topic rule, keyed by batch."""

from __future__ import annotations

import re
import typing
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from common_core.events import (
    REGISTRY,
    AssessmentResult,
    BatchCJAssessmentInitiateCommand,
    BatchContentProvisioningCompleted,
    BatchEssaysReady,
    BatchEssaysRegistered,
    BatchPipelineCompleted,
    BatchSpellcheckInitiateCommand,
    CJAssessmentCompleted,
    CJAssessmentFailed,
    CJAssessmentRequested,
    ClientBatchPipelineRequest,
    ELSBatchPhaseOutcome,
    EssayContentProvisioned,
    EssaySlotAssigned,
    EssaySpellcheckRequested,
    EssayValidationFailed,
    EventRegistry,
    EventSpec,
    ExcessContentProvisioned,
    LLMComparisonRequest,
    LLMComparisonResult,
    SpellcheckResult,
    UnknownEventTypeError,
    topic_name,
)

MAIN_FLOW = {
    BatchEssaysRegistered,
    EssayContentProvisioned,
    EssayValidationFailed,
    EssaySlotAssigned,
    ExcessContentProvisioned,
    BatchContentProvisioningCompleted,
    BatchEssaysReady,
    ClientBatchPipelineRequest,
    BatchSpellcheckInitiateCommand,
    BatchCJAssessmentInitiateCommand,
    EssaySpellcheckRequested,
    SpellcheckResult,
    ELSBatchPhaseOutcome,
    BatchPipelineCompleted,
    CJAssessmentRequested,
    CJAssessmentCompleted,
    CJAssessmentFailed,
    LLMComparisonRequest,
    LLMComparisonResult,
    AssessmentResult,
}

TOPIC_RULE = re.compile(r"^huleedu(\.[a-z][a-z0-9_]*){2,}\.v[1-9][0-9]*$")
SPECS = list(REGISTRY)


def test_registry_holds_exactly_the_main_flow() -> None:
    assert {spec.data_model for spec in SPECS} == MAIN_FLOW
    assert len(REGISTRY) == len(MAIN_FLOW)


def test_llm_event_types_are_the_fixed_names() -> None:
    assert REGISTRY.spec_for_model(LLMComparisonRequest).event_type == "llm.comparison.requested"
    assert REGISTRY.spec_for_model(LLMComparisonResult).event_type == "llm.comparison.completed"


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.event_type)
def test_topic_follows_the_naming_rule(spec: EventSpec) -> None:
    domain, event = spec.event_type.split(".", 1)
    assert spec.topic == topic_name(domain, event)
    assert spec.topic == f"huleedu.{spec.event_type}.v1"
    assert TOPIC_RULE.match(spec.topic), spec.topic


def test_types_topics_and_models_are_unique() -> None:
    assert len({spec.event_type for spec in SPECS}) == len(SPECS)
    assert len(set(REGISTRY.topics())) == len(SPECS)
    assert len({spec.data_model for spec in SPECS}) == len(SPECS)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.event_type)
def test_batch_scoped_events_are_keyed_by_a_uuid_batch_id(spec: EventSpec) -> None:
    assert spec.key_field == "batch_id"
    hints = typing.get_type_hints(spec.data_model)
    assert hints["batch_id"] is UUID
    assert spec.data_model.model_fields["batch_id"].is_required()


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.event_type)
def test_description_is_one_line_naming_the_producer(spec: EventSpec) -> None:
    assert spec.description.strip() == spec.description
    assert "\n" not in spec.description
    assert "→" in spec.description


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.event_type)
def test_lookups_by_type_and_model_agree(spec: EventSpec) -> None:
    assert REGISTRY.spec(spec.event_type) is spec
    assert REGISTRY.spec_for_model(spec.data_model) is spec


def test_unknown_lookups_raise() -> None:
    class NotAnEvent(BaseModel):
        batch_id: UUID

    with pytest.raises(UnknownEventTypeError):
        REGISTRY.spec("batch.essays.exploded")
    with pytest.raises(UnknownEventTypeError):
        REGISTRY.spec_for_model(NotAnEvent)


def test_key_is_the_batch_id_as_text() -> None:
    batch_id = uuid4()
    payload = ClientBatchPipelineRequest(
        batch_id=batch_id, requested_pipeline="cj_assessment", user_id="teacher-1"
    )
    assert REGISTRY.spec_for_model(ClientBatchPipelineRequest).key_for(payload) == str(batch_id)


class _Probe(BaseModel):
    batch_id: UUID


class _OtherProbe(BaseModel):
    batch_id: UUID


def _probe_spec(event_type: str, topic: str, model: type[BaseModel]) -> EventSpec:
    return EventSpec(event_type, topic, model, "batch_id", "test → test: probe.")


@pytest.mark.parametrize(
    "second",
    [
        _probe_spec("probe.seen", "huleedu.probe.other.v1", _OtherProbe),
        _probe_spec("probe.other", "huleedu.probe.other.v1", _Probe),
        _probe_spec("probe.other", "huleedu.probe.seen.v1", _OtherProbe),
    ],
    ids=["same-type", "same-model", "same-topic"],
)
def test_a_duplicate_is_rejected_at_definition(second: EventSpec) -> None:
    registry = EventRegistry([_probe_spec("probe.seen", "huleedu.probe.seen.v1", _Probe)])
    with pytest.raises(ValueError, match="registered twice"):
        registry.add(second)


def test_a_key_field_missing_from_the_model_is_rejected() -> None:
    class Keyless(BaseModel):
        essay_id: UUID

    with pytest.raises(ValueError, match="no key field"):
        EventRegistry([_probe_spec("probe.keyless", "huleedu.probe.keyless.v1", Keyless)])
