"""Essay texts by content id, read from content_service.

Content is addressed by its sha256, so a text never changes: a small in-process cache saves
the second fetch of an essay that appears in many pairs.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from huleedu_service_libs.content_client import (
    ContentClient,
    ContentRefusedError,
    ContentServiceUnavailableError,
)


class ContentMissingError(Exception):
    """content_service does not have this id: the request can never be answered."""


class ContentUnavailableError(Exception):
    """content_service could not be asked right now: try the request again later."""


class TextSource(Protocol):
    async def text(self, content_id: str) -> str: ...


class ContentServiceTexts:
    def __init__(self, content: ContentClient, *, cache_size: int = 2048) -> None:
        self._content = content
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size

    async def text(self, content_id: str) -> str:
        cached = self._cache.get(content_id)
        if cached is not None:
            self._cache.move_to_end(content_id)
            return cached
        try:
            data = await self._content.fetch(content_id)
        except ContentRefusedError as refused:
            raise ContentMissingError(f"content {content_id}: {refused}") from refused
        except ContentServiceUnavailableError as error:
            raise ContentUnavailableError(str(error)) from error
        text = data.decode("utf-8", errors="replace")
        self._cache[content_id] = text
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return text
