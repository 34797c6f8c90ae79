"""file_service test fixtures: the real content_service and BOS, and file_service, served."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from batch_orchestrator.service import DEFINITION as BOS_DEFINITION
from batch_orchestrator.settings import BatchOrchestratorSettings
from content_service.service import DEFINITION as CONTENT_DEFINITION
from content_service.settings import ContentSettings
from file_service.service import DEFINITION
from file_service.settings import FileSettings

sys.path.insert(0, str(Path(__file__).parent))  # lets tests import the two helper modules

from file_service_harness import (  # type: ignore[import-not-found]
    BatchOrchestrator,
    FileService,
    FileServiceFactory,
)

from huleedu_service_libs.testing.services import serve_service


@pytest.fixture(scope="module")
async def content_service_url(
    database_factory: Callable[[str], Any], settings_factory: Callable[..., Any]
) -> AsyncIterator[str]:
    database_url = await database_factory(f"fs_content_{uuid.uuid4().hex[:8]}")
    settings = settings_factory(
        "content_service", database_url=database_url, settings_class=ContentSettings
    )
    async with serve_service(CONTENT_DEFINITION, settings) as url:
        yield url


@pytest.fixture(scope="module")
async def batch_orchestrator(
    database_factory: Callable[[str], Any],
    settings_factory: Callable[..., Any],
    topic_prefix: str,
) -> AsyncIterator[BatchOrchestrator]:
    database_url = await database_factory(f"fs_bos_{uuid.uuid4().hex[:8]}")
    settings: BatchOrchestratorSettings = settings_factory(
        "batch_orchestrator",
        database_url=database_url,
        settings_class=BatchOrchestratorSettings,
        kafka_topic_prefix=f"{topic_prefix}{uuid.uuid4().hex[:8]}.",
    )
    async with serve_service(BOS_DEFINITION, settings) as url:
        yield BatchOrchestrator(url=url, settings=settings)


@pytest.fixture
async def file_service_factory(
    database_url: str,
    settings_factory: Callable[..., Any],
    topic_prefix: str,
    content_service_url: str,
    batch_orchestrator: BatchOrchestrator,
) -> FileServiceFactory:
    """`async with file_service_factory(**settings) as service`: file_service on a real port."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[FileService]:
        values: dict[str, Any] = {
            "content_service_url": content_service_url,
            "batch_orchestrator_url": batch_orchestrator.url,
            "max_files_per_request": 20,
            "max_file_bytes": 100_000,
            "max_request_bytes": 1_000_000,
            "kafka_topic_prefix": f"{topic_prefix}{uuid.uuid4().hex[:8]}.",
        }
        values.update(overrides)
        settings: FileSettings = settings_factory(
            "file_service", database_url=database_url, settings_class=FileSettings, **values
        )
        async with serve_service(DEFINITION, settings) as url:
            yield FileService(url=url, settings=settings)

    return make


@pytest.fixture
async def file_service(file_service_factory: FileServiceFactory) -> AsyncIterator[FileService]:
    async with file_service_factory() as service:
        yield service
