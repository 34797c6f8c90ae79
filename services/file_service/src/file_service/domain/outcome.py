"""What checking one uploaded file can come to: usable text, or a reason a teacher can act on."""

from __future__ import annotations

from dataclasses import dataclass

from common_core.errors import FileValidationErrorCode
from common_core.events.essay import FileFormat


@dataclass(frozen=True)
class ExtractedText:
    """Normalised essay text extracted from a file of `file_format`."""

    text: str
    file_format: FileFormat


@dataclass(frozen=True)
class FileRejection:
    """Why a file cannot become an essay; `message` is shown to the teacher as is."""

    code: FileValidationErrorCode
    message: str
    file_format: FileFormat | None = None


FileCheck = ExtractedText | FileRejection
