"""One upload request's files: checked, extracted and stored in content_service.

Everything that can fail for reasons outside the file (content_service down) fails here,
before anything is recorded, so that the caller can answer 503 with nothing half-done; the
request's outcomes are then recorded and their events written in one transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

from common_core.errors import ErrorCode
from common_core.events.essay import EssayContentProvisioned, EssayValidationFailed, FileFormat
from file_service.domain.outcome import ExtractedText, FileRejection
from file_service.domain.validation import UploadLimits, check_content, check_file_size
from file_service.metrics import EXTRACTION_SECONDS, FILES_PROCESSED
from file_service.models import UploadOutcome
from huleedu_service_libs.content_client import (
    TEXT_MEDIA_TYPE,
    ContentClient,
    ContentRefusedError,
    ContentServiceUnavailableError,
)

MEDIA_TYPES: dict[FileFormat | None, str] = {
    FileFormat.TXT: "text/plain",
    FileFormat.PDF: "application/pdf",
    FileFormat.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    None: "application/octet-stream",
}
MAX_EVENT_MESSAGE_LENGTH = 2_000


@dataclass(frozen=True)
class UploadedFile:
    file_name: str
    data: bytes


@dataclass(frozen=True)
class ProcessedFile:
    """The outcome of one file: stored ids when accepted, the rejection when not."""

    file_upload_id: UUID
    file_name: str
    size_bytes: int
    file_format: FileFormat | None
    raw_file_id: str | None
    text_id: str | None
    character_count: int | None
    rejection: FileRejection | None

    @property
    def outcome(self) -> UploadOutcome:
        return UploadOutcome.REJECTED if self.rejection else UploadOutcome.ACCEPTED

    def event(self, batch_id: UUID) -> EssayContentProvisioned | EssayValidationFailed:
        if self.rejection is not None:
            return EssayValidationFailed(
                batch_id=batch_id,
                file_upload_id=self.file_upload_id,
                original_file_name=self.file_name,
                file_format=self.file_format,
                raw_file_id=self.raw_file_id,
                reason=self.rejection.code,
                message=self.rejection.message[:MAX_EVENT_MESSAGE_LENGTH],
            )
        if self.file_format is None or self.raw_file_id is None or self.text_id is None:
            raise ValueError("an accepted file has a format, a raw file id and a text id")
        return EssayContentProvisioned(
            batch_id=batch_id,
            file_upload_id=self.file_upload_id,
            original_file_name=self.file_name,
            file_format=self.file_format,
            raw_file_id=self.raw_file_id,
            text_id=self.text_id,
            character_count=self.character_count or 0,
        )


class FileIntake:
    def __init__(self, content: ContentClient, limits: UploadLimits, *, concurrency: int) -> None:
        self._content = content
        self._limits = limits
        self._concurrency = concurrency

    async def process(self, files: Sequence[UploadedFile]) -> list[ProcessedFile]:
        """Outcomes in upload order; raises ContentServiceUnavailableError if storage is down."""
        slots = asyncio.Semaphore(self._concurrency)

        async def bounded(file: UploadedFile) -> ProcessedFile:
            async with slots:
                return await self._process_one(file)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(bounded(file)) for file in files]
        except* ContentServiceUnavailableError as failures:
            raise failures.exceptions[0] from None
        processed = [task.result() for task in tasks]
        for file in processed:
            FILES_PROCESSED.labels(
                file.outcome.value,
                file.file_format.value if file.file_format else "unknown",
                file.rejection.code.value if file.rejection else "",
            ).inc()
        return processed

    async def _process_one(self, file: UploadedFile) -> ProcessedFile:
        size_rejection = check_file_size(len(file.data), self._limits)
        if size_rejection is not None:
            return _rejected(file, size_rejection, raw_file_id=None)
        started = time.perf_counter()
        checked = await asyncio.to_thread(check_content, file.file_name, file.data, self._limits)
        EXTRACTION_SECONDS.labels(_format_label(checked.file_format)).observe(
            time.perf_counter() - started
        )
        try:
            raw_file_id = await self._content.store(file.data, MEDIA_TYPES[checked.file_format])
        except ContentRefusedError as error:
            return _rejected(file, _not_stored(error, checked.file_format), raw_file_id=None)
        if isinstance(checked, FileRejection):
            return _rejected(file, checked, raw_file_id=raw_file_id)
        return await self._store_text(file, checked, raw_file_id)

    async def _store_text(
        self, file: UploadedFile, extracted: ExtractedText, raw_file_id: str
    ) -> ProcessedFile:
        try:
            text_id = await self._content.store(extracted.text.encode("utf-8"), TEXT_MEDIA_TYPE)
        except ContentRefusedError as error:
            return _rejected(file, _not_stored(error, extracted.file_format), raw_file_id)
        return ProcessedFile(
            file_upload_id=uuid4(),
            file_name=file.file_name,
            size_bytes=len(file.data),
            file_format=extracted.file_format,
            raw_file_id=raw_file_id,
            text_id=text_id,
            character_count=len(extracted.text),
            rejection=None,
        )


def _rejected(
    file: UploadedFile, rejection: FileRejection, raw_file_id: str | None
) -> ProcessedFile:
    return ProcessedFile(
        file_upload_id=uuid4(),
        file_name=file.file_name,
        size_bytes=len(file.data),
        file_format=rejection.file_format,
        raw_file_id=raw_file_id,
        text_id=None,
        character_count=None,
        rejection=rejection,
    )


def _not_stored(error: ContentRefusedError, file_format: FileFormat | None) -> FileRejection:
    return FileRejection(
        ErrorCode.PROCESSING_FAILED,
        f"The file could not be stored ({error}). Upload it again; if it keeps failing, "
        "save it in another format.",
        file_format,
    )


def _format_label(file_format: FileFormat | None) -> str:
    return file_format.value if file_format else "unknown"
