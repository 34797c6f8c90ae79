"""A batch of 30 essays ranked end to end: cj_assessment and llm_provider workers as processes.

Both `python -m <service> worker` processes run against the run's broker, Postgres and Redis;
the essays are stored in a real content_service, where the LLM provider's offline judge reads
them. The request goes onto the broker as ELS would publish it. The ranking must agree with the
offline judge's hidden quality (Spearman >= 0.9).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from cj_assessment.models import cj_batches
from cj_assessment.service import DEFINITION as CJ_DEFINITION
from cj_assessment.settings import CJAssessmentSettings
from graded_texts import graded_essay  # type: ignore[import-not-found]
from llm_provider.domain.offline_judge import latent_quality
from llm_provider.service import DEFINITION as LPS_DEFINITION
from llm_provider.settings import LLMProviderSettings
from scipy.stats import spearmanr
from sqlalchemy import select

from common_core.events import REGISTRY
from common_core.events.base import EssayTextRef
from common_core.events.cj import CJAssessmentCompleted, CJAssessmentRequested
from common_core.events.results import AssessmentResult
from huleedu_service_libs.database import create_engine
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.outbox.table import outbox_table
from huleedu_service_libs.settings import ServiceSettings

pytestmark = pytest.mark.integration

ESSAYS = 30


def worker_env(settings: ServiceSettings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "KAFKA_PARTITIONS": "1",
        "LOG_LEVEL": "WARNING",
        "OUTBOX_POLL_INTERVAL_S": "0.2",
        **extra,
    }


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=30)
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass
class Workers:
    settings: CJAssessmentSettings
    processes: list[asyncio.subprocess.Process]
    logs: list[Path]

    def check_running(self) -> None:
        """Fail at once, with the log's end, if a worker process died."""
        for process, log in zip(self.processes, self.logs, strict=True):
            if process.returncode is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"{log.stem} exited with {process.returncode}:\n{tail}")


async def start(service: str, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            service,
            "worker",
            env=env,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )


@pytest.fixture
async def workers(
    database_factory: Callable[[str], Any],
    settings_factory: Callable[..., Any],
    topic_prefix: str,
    redis_prefix: str,
    content_service_url: str,
    tmp_path: Path,
) -> AsyncIterator[Workers]:
    suffix = uuid.uuid4().hex[:8]
    shared = {
        "kafka_topic_prefix": f"{topic_prefix}e2e{suffix}.",
        "kafka_partitions": 1,
        "content_service_url": content_service_url,
    }
    cj_settings: CJAssessmentSettings = settings_factory(
        "cj_assessment",
        database_url=await database_factory(f"cj_e2e_{suffix}"),
        settings_class=CJAssessmentSettings,
        redis_key_prefix=f"{redis_prefix}:cje2e{suffix}",
        **shared,
    )
    lps_settings: LLMProviderSettings = settings_factory(
        "llm_provider",
        database_url=await database_factory(f"lps_e2e_{suffix}"),
        settings_class=LLMProviderSettings,
        redis_key_prefix=f"{redis_prefix}:lpse2e{suffix}",
        **shared,
    )
    await upgrade_to_head(cj_settings.database_url, CJ_DEFINITION.migrations_path)
    await upgrade_to_head(lps_settings.database_url, LPS_DEFINITION.migrations_path)
    namer = TopicNamer(cj_settings.kafka_topic_prefix)
    await ensure_topics(
        cj_settings.kafka_bootstrap_servers,
        [namer.topic(spec.topic) for spec in REGISTRY],
        partitions=1,
    )
    logs = [tmp_path / "llm_provider.log", tmp_path / "cj_assessment.log"]
    processes = [
        await start(
            "llm_provider",
            worker_env(
                lps_settings,
                CONTENT_SERVICE_URL=content_service_url,
                DEFAULT_PROVIDER="offline",
                QUEUE_POP_TIMEOUT_S="0.2",
            ),
            logs[0],
        ),
        await start(
            "cj_assessment",
            worker_env(
                cj_settings,
                CONTENT_SERVICE_URL=content_service_url,
                JUDGEMENTS_PER_ESSAY_BUDGET="8",
            ),
            logs[1],
        ),
    ]
    try:
        yield Workers(cj_settings, processes, logs)
    finally:
        for process in processes:
            await stop(process)


async def test_thirty_essays_rank_in_the_offline_judges_order(
    workers: Workers, content_service_url: str
) -> None:
    texts = [graded_essay(level, ESSAYS) for level in range(ESSAYS)]
    async with httpx.AsyncClient(base_url=content_service_url) as content:
        text_ids = []
        for text in texts:
            stored = await content.post(
                "/v1/content", content=text.encode(), headers={"Content-Type": "text/plain"}
            )
            assert stored.status_code in (200, 201)
            text_ids.append(stored.json()["content_id"])
    essay_ids = [uuid.uuid4() for _ in texts]
    quality = {essay: latent_quality(text) for essay, text in zip(essay_ids, texts, strict=True)}
    request = REGISTRY.envelope(
        CJAssessmentRequested(
            batch_id=uuid.uuid4(),
            essays=[
                EssayTextRef(essay_id=essay, text_id=text_id)
                for essay, text_id in zip(essay_ids, text_ids, strict=True)
            ],
            course_code="ENG5",
            language="en",
            essay_instructions="Describe a place that matters to you.",
        ),
        source_service="essay_lifecycle",
    )
    publisher = KafkaPublisher(workers.settings, REGISTRY)
    await publisher.start()
    try:
        await publisher.publish(request)
    finally:
        await publisher.stop()

    engine = create_engine(workers.settings.database_url)
    try:
        async with asyncio.timeout(240):  # a failure bound, not a speed claim
            while True:
                async with engine.connect() as conn:
                    finalised = (
                        await conn.execute(
                            select(cj_batches.c.finalised_at, cj_batches.c.end_reason).where(
                                cj_batches.c.batch_id == request.data.batch_id
                            )
                        )
                    ).one_or_none()
                if finalised is not None and finalised.finalised_at is not None:
                    break
                workers.check_running()
                await asyncio.sleep(0.5)
        async with engine.connect() as conn:
            payloads = {
                row.event_type: row.payload["data"]
                for row in await conn.execute(
                    select(outbox_table.c.event_type, outbox_table.c.payload)
                )
            }
    finally:
        await engine.dispose()

    completed = payloads[REGISTRY.spec_for_model(CJAssessmentCompleted).event_type]
    assert len(completed["assessed_essay_ids"]) == ESSAYS
    result = payloads[REGISTRY.spec_for_model(AssessmentResult).event_type]
    scores = {UUID(e["essay_id"]): e["bt_score"] for e in result["essays"]}
    rho = spearmanr([scores[e] for e in essay_ids], [quality[e] for e in essay_ids])[0]
    assert rho >= 0.9, (rho, result["comparisons_completed"], finalised.end_reason)
