"""The file name a teacher sees again: as uploaded, minus paths and invisible characters."""

from __future__ import annotations

import unicodedata

MAX_FILE_NAME_LENGTH = 255
UNNAMED_FILE = "unnamed file"
_MAX_KEPT_EXTENSION = 10


def clean_file_name(raw: str | None) -> str:
    """Base name only (browsers may send `C:\\fakepath\\x.docx`), no control or format
    characters (a right-to-left override could disguise an extension), at most 255 characters
    with the extension kept."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if not unicodedata.category(char).startswith("C"))
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        return UNNAMED_FILE
    if len(name) <= MAX_FILE_NAME_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and len(extension) <= _MAX_KEPT_EXTENSION:
        return stem[: MAX_FILE_NAME_LENGTH - len(extension) - 1] + dot + extension
    return name[:MAX_FILE_NAME_LENGTH]
