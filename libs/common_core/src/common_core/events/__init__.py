"""Every v1 event of the platform: its contract, its topic and its partition key.

`REGISTRY` is the one place topic names are written; producers and consumers look topics and
keys up here (`REGISTRY.spec_for_model(BatchEssaysRegistered).topic`).
"""

from __future__ import annotations

import inspect

from pydantic import BaseModel

from common_core.events.base import (
    MAX_BATCH_ESSAYS,
    ContentId,
    ContractModel,
    EssayTextRef,
    FailedEssay,
    LanguageCode,
)
from common_core.events.batch import (
    BatchContentProvisioningCompleted,
    BatchEssaysReady,
    BatchEssaysRegistered,
)
from common_core.events.cj import CJAssessmentCompleted, CJAssessmentFailed, CJAssessmentRequested
from common_core.events.envelope import EventEnvelope, EventMetadata, RawEnvelope
from common_core.events.essay import (
    EssayContentProvisioned,
    EssaySlotAssigned,
    EssayValidationFailed,
    ExcessContentProvisioned,
    FileFormat,
)
from common_core.events.llm import (
    ComparisonPrompt,
    ComparisonWinner,
    LLMComparisonRequest,
    LLMComparisonResult,
    ModelPreference,
)
from common_core.events.pipeline import (
    BatchCJAssessmentInitiateCommand,
    BatchPipelineCompleted,
    BatchSpellcheckInitiateCommand,
    ClientBatchPipelineRequest,
    ELSBatchPhaseOutcome,
    PhaseSummary,
)
from common_core.events.registry import (
    EventRegistry,
    EventSpec,
    UnknownEventTypeError,
    encode,
    to_json_dict,
    topic_name,
)
from common_core.events.results import AssessmentResult, EssayAssessmentResult, GradeProjection
from common_core.events.spellcheck import (
    CorrectionCategory,
    EssaySpellcheckRequested,
    SpellcheckCorrection,
    SpellcheckResult,
)

BATCH_KEY = "batch_id"


def summary_line(model: type[BaseModel]) -> str:
    """A contract's one-line description: the first line of its docstring."""
    doc = inspect.getdoc(model)
    if not doc:
        raise ValueError(f"{model.__name__} needs a docstring: it is the event's description")
    return doc.splitlines()[0]


def _batch_event(domain: str, event: str, data_model: type[BaseModel]) -> EventSpec:
    """A batch-scoped v1 event: type `<domain>.<event>`, keyed by batch so a batch stays ordered.

    The description is the model's docstring summary, so code and catalogue say the same.
    """
    return EventSpec(
        event_type=f"{domain}.{event}",
        topic=topic_name(domain, event),
        data_model=data_model,
        key_field=BATCH_KEY,
        description=summary_line(data_model),
    )


REGISTRY = EventRegistry(
    [
        # Intake
        _batch_event("batch", "essays.registered", BatchEssaysRegistered),
        _batch_event("essay", "content.provisioned", EssayContentProvisioned),
        _batch_event("essay", "validation.failed", EssayValidationFailed),
        _batch_event("essay", "slot.assigned", EssaySlotAssigned),
        _batch_event("essay", "excess_content.provisioned", ExcessContentProvisioned),
        _batch_event("batch", "content_provisioning.completed", BatchContentProvisioningCompleted),
        _batch_event("batch", "essays.ready", BatchEssaysReady),
        # Pipelines and phases
        _batch_event("pipeline", "requested", ClientBatchPipelineRequest),
        _batch_event("pipeline", "spellcheck.initiate", BatchSpellcheckInitiateCommand),
        _batch_event("pipeline", "cj_assessment.initiate", BatchCJAssessmentInitiateCommand),
        _batch_event("pipeline", "phase.outcome", ELSBatchPhaseOutcome),
        _batch_event("pipeline", "completed", BatchPipelineCompleted),
        # Spellcheck
        _batch_event("spellcheck", "essay.requested", EssaySpellcheckRequested),
        _batch_event("spellcheck", "essay.completed", SpellcheckResult),
        # Comparative judgement
        _batch_event("cj", "assessment.requested", CJAssessmentRequested),
        _batch_event("cj", "assessment.completed", CJAssessmentCompleted),
        _batch_event("cj", "assessment.failed", CJAssessmentFailed),
        _batch_event("llm", "comparison.requested", LLMComparisonRequest),
        _batch_event("llm", "comparison.completed", LLMComparisonResult),
        # Results
        _batch_event("assessment", "result.published", AssessmentResult),
    ]
)

__all__ = [
    "BATCH_KEY",
    "MAX_BATCH_ESSAYS",
    "REGISTRY",
    "AssessmentResult",
    "BatchCJAssessmentInitiateCommand",
    "BatchContentProvisioningCompleted",
    "BatchEssaysReady",
    "BatchEssaysRegistered",
    "BatchPipelineCompleted",
    "BatchSpellcheckInitiateCommand",
    "CJAssessmentCompleted",
    "CJAssessmentFailed",
    "CJAssessmentRequested",
    "ClientBatchPipelineRequest",
    "ComparisonPrompt",
    "ComparisonWinner",
    "ContentId",
    "ContractModel",
    "CorrectionCategory",
    "ELSBatchPhaseOutcome",
    "EssayAssessmentResult",
    "EssayContentProvisioned",
    "EssaySlotAssigned",
    "EssaySpellcheckRequested",
    "EssayTextRef",
    "EssayValidationFailed",
    "EventEnvelope",
    "EventMetadata",
    "EventRegistry",
    "EventSpec",
    "ExcessContentProvisioned",
    "FailedEssay",
    "FileFormat",
    "GradeProjection",
    "LLMComparisonRequest",
    "LLMComparisonResult",
    "LanguageCode",
    "ModelPreference",
    "PhaseSummary",
    "RawEnvelope",
    "SpellcheckCorrection",
    "SpellcheckResult",
    "UnknownEventTypeError",
    "encode",
    "summary_line",
    "to_json_dict",
    "topic_name",
]
