"""Content addressing: the id of content is the sha256 of its bytes, so storing is idempotent."""

from __future__ import annotations

import hashlib


def content_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_content_id(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
