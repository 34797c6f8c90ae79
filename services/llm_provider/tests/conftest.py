from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from llm_provider.queue import RequestQueue
from llm_provider.service import DEFINITION
from llm_provider.settings import LLMProviderSettings

from huleedu_service_libs.database import create_engine, create_session_factory
from huleedu_service_libs.migrations import upgrade_to_head

sys.path.insert(0, str(Path(__file__).parent))  # lets tests import fake_llm_server

from fake_llm_server import FakeLLMServer  # type: ignore[import-not-found]
from lps_harness import Lps, make_callbacks  # type: ignore[import-not-found]


@pytest.fixture
async def fake_llm_server() -> AsyncIterator[FakeLLMServer]:
    server = FakeLLMServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def lps_settings(
    settings_factory: Any, database_url: str, topic_prefix: str, redis_prefix: str
) -> LLMProviderSettings:
    suffix = uuid.uuid4().hex[:8]
    settings: LLMProviderSettings = settings_factory(
        "llm_provider",
        database_url=database_url,
        settings_class=LLMProviderSettings,
        kafka_topic_prefix=f"{topic_prefix}{suffix}.",
        redis_key_prefix=f"{redis_prefix}:llm_provider{suffix}",
    )
    return settings


@pytest.fixture
async def lps(
    lps_settings: LLMProviderSettings, redis_client: aioredis.Redis
) -> AsyncIterator[Lps]:
    await upgrade_to_head(lps_settings.database_url, DEFINITION.migrations_path)
    engine = create_engine(lps_settings.database_url)
    yield Lps(
        settings=lps_settings,
        engine=engine,
        sessions=create_session_factory(engine),
        redis=redis_client,
        queue=RequestQueue(redis_client, key_prefix=lps_settings.redis_key_prefix),
        callbacks=make_callbacks(lps_settings),
    )
    await engine.dispose()
