"""Live batch progress: what the teacher's page is told as a batch moves.

result_aggregator records one `ProgressEvent` per change of its read model, numbered per batch
(`seq` 1, 2, 3, ...) in the same transaction as the change, and announces it after commit. The
gateway serves them as server-sent events whose `id` is `seq`, so a client reconnecting with
`Last-Event-ID: n` is sent everything after n: first from the recorded log, then live.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, Field

from common_core.events.base import ContractModel


class ProgressEvent(ContractModel):
    """One change of a batch as the teacher sees it (an essay spellchecked, a phase ended...)."""

    batch_id: UUID = Field(description="The batch.")
    seq: int = Field(ge=1, description="Position in the batch's progress log, from 1, no gaps.")
    kind: str = Field(
        min_length=1, max_length=64, description="What happened, e.g. `essay.spellchecked`."
    )
    at: AwareDatetime = Field(description="When the read model recorded the change.")
    data: dict[str, Any] = Field(
        default_factory=dict, description="A small summary for the page (ids, counts, status)."
    )
