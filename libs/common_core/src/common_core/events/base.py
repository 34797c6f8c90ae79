"""What every contract shares: the base model, identifier types and essay references."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common_core.errors import ErrorDetail

MAX_BATCH_ESSAYS = 500
"""Upper bound of essays in one batch; every per-batch essay list is bounded by it."""

CONTENT_ID_PATTERN = r"^[0-9a-f]{64}$"
LANGUAGE_PATTERN = r"^[a-z]{2}$"

ContentId = Annotated[str, StringConstraints(pattern=CONTENT_ID_PATTERN)]
"""An id in content_service: the lowercase hex SHA-256 of the stored bytes."""

LanguageCode = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)]
"""An ISO 639-1 language code, e.g. `en`."""


class ContractModel(BaseModel):
    """Base of every event payload.

    Frozen, because an event is a fact. Unknown fields are ignored so that a producer can add
    an optional field within a topic version without breaking consumers deployed earlier; a
    breaking change gets a new topic version instead. Non-finite floats are rejected because
    JSON cannot carry them.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class EssayTextRef(ContractModel):
    """An essay and the text it currently stands for (original, then corrected)."""

    essay_id: UUID = Field(description="The essay (slot) id assigned at registration.")
    text_id: ContentId = Field(description="content_service id of the essay's current text.")


class FailedEssay(ContractModel):
    """An essay that did not make it through a step, and why; failures are never dropped."""

    essay_id: UUID = Field(description="The essay (slot) id.")
    error: ErrorDetail = Field(description="Why the essay failed.")


def require_distinct(essay_ids: Iterable[UUID]) -> None:
    """Reject an essay listed twice: every per-essay count downstream relies on it."""
    seen: set[UUID] = set()
    for essay_id in essay_ids:
        if essay_id in seen:
            raise ValueError(f"essay {essay_id} is listed more than once")
        seen.add(essay_id)
