"""Upload validation: a file must be within size, readable, and of essay length."""

from __future__ import annotations

from dataclasses import dataclass

from common_core.errors import ErrorCode
from file_service.domain.extraction import extract_text
from file_service.domain.outcome import ExtractedText, FileCheck, FileRejection

MIN_ESSAY_CHARACTERS = 50
MAX_ESSAY_CHARACTERS = 50_000
_MEBIBYTE = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """Per-file limits; the per-request limits are the HTTP layer's."""

    max_file_bytes: int
    min_characters: int = MIN_ESSAY_CHARACTERS
    max_characters: int = MAX_ESSAY_CHARACTERS


def check_file_size(size_bytes: int, limits: UploadLimits) -> FileRejection | None:
    """Checked before anything is stored: an empty or oversized file is never read."""
    if size_bytes == 0:
        return FileRejection(ErrorCode.EMPTY_CONTENT, "The file is empty.")
    if size_bytes > limits.max_file_bytes:
        return FileRejection(
            ErrorCode.FILE_TOO_LARGE,
            f"The file is {_megabytes(size_bytes)}; files may be at most "
            f"{_megabytes(limits.max_file_bytes)}.",
        )
    return None


def check_content(file_name: str, data: bytes, limits: UploadLimits) -> FileCheck:
    """Extract the essay text and check its length."""
    extracted = extract_text(file_name, data)
    if isinstance(extracted, FileRejection):
        return extracted
    return check_text(extracted, limits) or extracted


def check_text(extracted: ExtractedText, limits: UploadLimits) -> FileRejection | None:
    length = len(extracted.text)
    if length == 0:
        return FileRejection(
            ErrorCode.EMPTY_CONTENT, "The file contains no text.", extracted.file_format
        )
    if length < limits.min_characters:
        return FileRejection(
            ErrorCode.CONTENT_TOO_SHORT,
            f"The essay has {length} characters; at least {limits.min_characters} are needed.",
            extracted.file_format,
        )
    if length > limits.max_characters:
        return FileRejection(
            ErrorCode.CONTENT_TOO_LONG,
            f"The essay has {length:,} characters; at most {limits.max_characters:,} are allowed.",
            extracted.file_format,
        )
    return None


def _megabytes(size_bytes: int) -> str:
    return f"{size_bytes / _MEBIBYTE:.1f} MB"
