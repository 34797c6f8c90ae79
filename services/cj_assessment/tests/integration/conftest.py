from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cj_assessment.service import DEFINITION
from cj_assessment.settings import CJAssessmentSettings
from content_service.service import DEFINITION as CONTENT_DEFINITION
from content_service.settings import ContentSettings

from huleedu_service_libs.database import create_engine
from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.testing.services import serve_service

sys.path.insert(0, str(Path(__file__).parent))  # lets tests import cj_harness

from cj_harness import Cj  # type: ignore[import-not-found]


@pytest.fixture
def cj_settings(
    settings_factory: Callable[..., Any], database_url: str, topic_prefix: str, redis_prefix: str
) -> CJAssessmentSettings:
    suffix = uuid.uuid4().hex[:8]
    settings: CJAssessmentSettings = settings_factory(
        "cj_assessment",
        database_url=database_url,
        settings_class=CJAssessmentSettings,
        kafka_topic_prefix=f"{topic_prefix}{suffix}.",
        redis_key_prefix=f"{redis_prefix}:cj{suffix}",
        max_error_retries=1,
    )
    return settings


@pytest.fixture
async def cj(cj_settings: CJAssessmentSettings) -> AsyncIterator[Cj]:
    await upgrade_to_head(cj_settings.database_url, DEFINITION.migrations_path)
    engine = create_engine(cj_settings.database_url)
    yield Cj(cj_settings, engine)
    await engine.dispose()


@pytest.fixture(scope="module")
async def content_service_url(
    database_factory: Callable[[str], Any], settings_factory: Callable[..., Any]
) -> AsyncIterator[str]:
    database_url = await database_factory(f"cj_content_{uuid.uuid4().hex[:8]}")
    settings = settings_factory(
        "content_service", database_url=database_url, settings_class=ContentSettings
    )
    async with serve_service(CONTENT_DEFINITION, settings) as url:
        yield url
