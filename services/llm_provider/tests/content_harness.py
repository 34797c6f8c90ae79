"""A real content_service, served in-process on a free port, for the tests that read texts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from content_service.service import DEFINITION as CONTENT_DEFINITION
from content_service.settings import ContentSettings

from huleedu_service_libs.testing.services import serve_service


@asynccontextmanager
async def running_content_service(
    database_factory: Callable[[str], Awaitable[str]], settings_factory: Callable[..., Any]
) -> AsyncIterator[str]:
    """content_service on its own fresh database; yields its base URL."""
    database_url = await database_factory(f"lps_content_{uuid.uuid4().hex[:8]}")
    settings = settings_factory(
        "content_service", database_url=database_url, settings_class=ContentSettings
    )
    async with serve_service(CONTENT_DEFINITION, settings) as url:
        yield url


async def store_text(content_url: str, text: str) -> str:
    """Store `text` in content_service; returns its content id."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{content_url}/v1/content",
            content=text.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
    assert response.status_code == 201, response.text
    return str(response.json()["content_id"])
