"""Essay intake: uploaded files become content, content fills slots."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from common_core.errors import FileValidationErrorCode
from common_core.events.base import ContentId, ContractModel


class FileFormat(StrEnum):
    """Uploaded file formats the platform extracts text from."""

    TXT = "txt"
    DOCX = "docx"
    PDF = "pdf"


class EssayContentProvisioned(ContractModel):
    """file_service → ELS: an uploaded file passed validation and its text is stored.

    May arrive before `BatchEssaysRegistered`; ELS keeps it until the batch's slots exist.
    """

    batch_id: UUID = Field(description="The batch the file was uploaded to.")
    file_upload_id: UUID = Field(description="Identity of this one uploaded file.")
    original_file_name: str = Field(
        min_length=1, max_length=255, description="File name as the teacher uploaded it."
    )
    file_format: FileFormat = Field(description="Detected format of the uploaded file.")
    raw_file_id: ContentId = Field(description="content_service id of the raw uploaded bytes.")
    text_id: ContentId = Field(description="content_service id of the extracted plain text.")
    character_count: int = Field(ge=0, description="Length of the extracted text.")


class EssayValidationFailed(ContractModel):
    """file_service → ELS, RAS: an uploaded file was rejected; it still closes a slot."""

    batch_id: UUID = Field(description="The batch the file was uploaded to.")
    file_upload_id: UUID = Field(description="Identity of this one uploaded file.")
    original_file_name: str = Field(
        min_length=1, max_length=255, description="File name as the teacher uploaded it."
    )
    file_format: FileFormat | None = Field(
        default=None, description="Detected format; none if it could not be determined."
    )
    raw_file_id: ContentId | None = Field(
        default=None, description="content_service id of the raw bytes, if they were stored."
    )
    reason: FileValidationErrorCode = Field(description="Why the file was rejected.")
    message: str = Field(max_length=2_000, description="Explanation a teacher can act on.")


class EssaySlotAssigned(ContractModel):
    """ELS → RAS: provisioned content now fills one essay slot."""

    batch_id: UUID = Field(description="The batch.")
    essay_id: UUID = Field(description="The slot (essay id) that received the content.")
    file_upload_id: UUID = Field(description="The uploaded file the content came from.")
    original_file_name: str = Field(
        min_length=1, max_length=255, description="File name as the teacher uploaded it."
    )
    text_id: ContentId = Field(description="content_service id of the essay's text.")


class ExcessContentProvisioned(ContractModel):
    """ELS → BOS, RAS: valid content arrived for a batch whose slots are all taken.

    The content stays stored but is not processed; the teacher sees it as surplus.
    """

    batch_id: UUID = Field(description="The batch.")
    file_upload_id: UUID = Field(description="The surplus uploaded file.")
    original_file_name: str = Field(
        min_length=1, max_length=255, description="File name as the teacher uploaded it."
    )
    text_id: ContentId = Field(description="content_service id of the surplus text.")
