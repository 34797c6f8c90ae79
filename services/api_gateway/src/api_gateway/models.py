"""The public /v1 contract: request and response bodies the gateway documents and validates."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from quart_schema.pydantic import File

from common_core.errors import ErrorCode
from common_core.events.base import MAX_BATCH_ESSAYS
from common_core.progress import ProgressEvent
from common_core.read_model import Correction
from common_core.status import BatchClientStatus, PhaseName


def _storable_text(value: str) -> str:
    """Text the platform can store and forward: no NUL (Postgres text), no lone surrogates
    (not encodable as UTF-8). Refused here as a 400 instead of failing further along."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


_Storable = AfterValidator(_storable_text)
CourseCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), _Storable
]
ReferenceId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), _Storable
]
Title = Annotated[str, StringConstraints(max_length=255), _Storable]
Instructions = Annotated[str, StringConstraints(max_length=20_000), _Storable]


class RegisterBatchRequest(BaseModel):
    expected_essay_count: int = Field(
        strict=True, ge=1, le=MAX_BATCH_ESSAYS, description="How many essays will be uploaded."
    )
    course_code: CourseCode = Field(description="Course, e.g. `ENG5`; `SV*` means Swedish.")
    title: Title | None = None
    essay_instructions: Instructions | None = Field(
        default=None, description="The assignment the students answered."
    )
    class_id: ReferenceId | None = None
    assignment_id: ReferenceId | None = Field(
        default=None,
        description="Assignment whose anchor essays grade this batch; none means no grades.",
    )


class RegistrationAccepted(BaseModel):
    batch_id: UUID
    correlation_id: UUID
    status: BatchClientStatus


class UploadForm(BaseModel):
    """The multipart form of `POST /v1/files/batch`: the batch and its files (`files`, repeated)."""

    batch_id: UUID
    files: list[File] = Field(min_length=1)


class FileOutcome(BaseModel):
    file_name: str
    file_upload_id: UUID
    status: Literal["accepted", "rejected"]
    reason: ErrorCode | None = Field(default=None, description="Why the file was rejected.")
    message: str | None = None


class UploadAccepted(BaseModel):
    batch_id: UUID
    files: list[FileOutcome]


class PipelineRequest(BaseModel):
    requested_pipeline: PhaseName = Field(
        description="The last phase wanted; phases it depends on run first, completed ones are "
        "skipped. `cj_assessment` runs spellcheck first unless the batch already has it."
    )


class PipelineAccepted(BaseModel):
    """The request is on the bus; follow the batch's status to see it run."""

    status: Literal["accepted"]
    batch_id: UUID
    correlation_id: UUID


class EssayText(BaseModel):
    essay_id: UUID
    file_name: str | None
    original_text: str | None
    corrected_text: str | None = Field(description="None until the essay is spellchecked.")
    corrections: list[Correction]


class ProgressQuery(BaseModel):
    after: int = Field(default=0, ge=0, description="The last `seq` the client has.")


class ProgressEvents(BaseModel):
    events: list[ProgressEvent] = Field(description="In `seq` order, at most one page.")
