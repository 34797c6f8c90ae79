"""llm_provider's queue and worker wired to the run's Postgres and Redis, for tests.

Texts come from a dictionary (content_service is another service, not infrastructure); the
provider is the offline judge behind a wrapper that counts calls per request id.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from llm_provider.callbacks import CallbackWriters
from llm_provider.clock import Clock, FakeClock
from llm_provider.comparison_caller import ComparisonCaller
from llm_provider.domain.circuit_breaker import CircuitBreakers
from llm_provider.domain.costs import ModelManifest
from llm_provider.domain.rate_limit import RateLimiter
from llm_provider.intake import accept_request
from llm_provider.providers.base import ComparisonCall, ProviderResponse
from llm_provider.providers.offline_provider import OfflineProvider
from llm_provider.queue import RequestQueue
from llm_provider.settings import LLMProviderSettings
from llm_provider.texts import ContentMissingError, TextSource
from llm_provider.worker import ComparisonWorker, WorkerConfig
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common_core.events import REGISTRY
from common_core.events.llm import ComparisonPrompt, LLMComparisonRequest, LLMComparisonResult
from huleedu_service_libs.database import UnitOfWork
from huleedu_service_libs.kafka.topics import TopicNamer
from huleedu_service_libs.outbox import outbox_table

ESSAYS = {
    "a" * 64: "The harbour at dawn is quiet. Fishermen mend their nets and talk softly. "
    "I go there every summer because the light on the water calms me.",
    "b" * 64: "i like the see. it is nice. i go ther.",
    "c" * 64: "Although the city never sleeps, its parks offer a refuge; in the early morning, "
    "joggers, dog walkers and pensioners share the paths, each absorbed in a private ritual.",
}
PROMPT = ComparisonPrompt(
    assignment="Describe a place you love.",
    criteria="Development, vocabulary, accuracy.",
    instructions="Answer with the better essay.",
)


def comparison_request(
    *,
    batch_id: UUID | None = None,
    deadline: datetime | None = None,
    priority: int = 5,
    callback_topic: str | None = None,
    text_ids: tuple[str, str] = ("a" * 64, "b" * 64),
) -> LLMComparisonRequest:
    return LLMComparisonRequest(
        request_id=uuid.uuid4(),
        batch_id=batch_id or uuid.uuid4(),
        callback_topic=callback_topic or REGISTRY.spec_for_model(LLMComparisonResult).topic,
        essay_a_id=uuid.uuid4(),
        essay_a_text_id=text_ids[0],
        essay_b_id=uuid.uuid4(),
        essay_b_text_id=text_ids[1],
        prompt=PROMPT,
        priority=priority,
        deadline=deadline or datetime.now(UTC) + timedelta(days=1),
    )


class DictTexts:
    def __init__(self, texts: dict[str, str]) -> None:
        self._texts = texts

    async def text(self, content_id: str) -> str:
        try:
            return self._texts[content_id]
        except KeyError:
            raise ContentMissingError(content_id) from None


@dataclass
class CountingProvider:
    """The offline judge, counting calls per request id and the peak of concurrent calls."""

    inner: OfflineProvider = field(default_factory=OfflineProvider)
    calls: Counter[UUID | None] = field(default_factory=Counter)
    active: int = 0
    peak: int = 0

    @property
    def name(self) -> str:
        return self.inner.name

    async def aclose(self) -> None:
        return None

    async def compare(self, call: ComparisonCall) -> ProviderResponse:
        self.calls[call.request_id] += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(0.001)  # a real provider call suspends; let others overlap
            return await self.inner.compare(call)
        finally:
            self.active -= 1


@dataclass
class Lps:
    settings: LLMProviderSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    queue: RequestQueue
    callbacks: CallbackWriters
    provider: CountingProvider = field(default_factory=CountingProvider)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.callbacks.writer_for(self.callbacks.registered_topic))

    def worker(
        self,
        *,
        clock: Clock | None = None,
        concurrency: int = 8,
        lease_s: float = 300.0,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        texts: TextSource | None = None,
        max_claims: int = 5,
    ) -> ComparisonWorker:
        clock = clock or FakeClock(start=10_000.0, wall_start=time.time())
        manifest = ModelManifest.load()
        breakers = CircuitBreakers(clock=clock)
        providers = {"offline": self.provider}
        caller = ComparisonCaller(
            providers=providers,
            manifest=manifest,
            limiter=RateLimiter(clock, manifest.rate_limits()),
            breakers=breakers,
            clock=clock,
        )
        return ComparisonWorker(
            sessions=sessions or self.sessions,
            callbacks=self.callbacks,
            queue=self.queue,
            caller=caller,
            providers=providers,
            manifest=manifest,
            breakers=breakers,
            texts=texts or DictTexts(ESSAYS),
            clock=clock,
            config=WorkerConfig(
                concurrency=concurrency,
                lease_s=lease_s,
                pop_timeout_s=0.2,
                housekeeping_interval_s=0.5,
                max_claims=max_claims,
                kafka_bootstrap_servers=self.settings.kafka_bootstrap_servers,
            ),
        )

    async def accept(self, requests: list[LLMComparisonRequest], *, via: str = "test") -> int:
        accepted = 0
        async with self.unit_of_work() as uow:
            for request in requests:
                accepted += await accept_request(
                    uow, self.queue, request, correlation_id=uuid.uuid4(), via=via
                )
            await uow.commit()
        return accepted

    async def callbacks_written(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(outbox_table).order_by(outbox_table.c.id))
            return [dict(row) for row in rows.mappings()]

    async def callback_count(self) -> int:
        return len(await self.callbacks_written())


async def eventually(condition: Callable[[], Awaitable[bool]], *, within_s: float = 120) -> None:
    """Poll until `condition` holds; the bound is a failure limit, not a speed claim."""
    async with asyncio.timeout(within_s):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)


def make_callbacks(settings: LLMProviderSettings) -> CallbackWriters:
    return CallbackWriters(REGISTRY, TopicNamer(settings.kafka_topic_prefix), settings.service_name)
