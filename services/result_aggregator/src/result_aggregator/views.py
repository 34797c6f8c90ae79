"""The progress paging of the internal API; the read model itself is `common_core.read_model`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from common_core.progress import ProgressEvent


class ProgressQuery(BaseModel):
    after: int = Field(default=0, ge=0, description="Last `seq` the reader has.")
    limit: int = Field(default=500, ge=1, le=1000)


class ProgressPage(BaseModel):
    events: list[ProgressEvent]
