"""LLM provider service: offline throughput and rate-limiter accuracy.

1. Throughput: 1,000 LLMComparisonRequest events published to the broker, consumed by the
   real ConsumerLoop, judged by the offline provider through the queue worker (concurrency 8),
   written to the outbox and published by the relay; measured from the first request event
   to the last callback event read back from the callback topic. Texts come from memory
   (content_service is not part of this measurement).
2. Limiter accuracy: 1,000 comparisons through the real Anthropic SDK against the local fake
   server, configured at 50 requests/min and 40,000 input tokens/min, on a fake clock. The
   fake server enforces the same limits as token buckets (as the provider documents) and
   answers 429 when a call exceeds them; those are the provoked 429s. Rates are measured
   after the first minute (the start-up burst a full bucket allows) and reported as
   fractions of the limit: measured / limit - 1. Essays of 190 words make a prompt of about
   800 billed tokens, so 50 requests/min and 40,000 tokens/min bind together and both
   buckets are exercised.

Needs DATABASE_URL, REDIS_URL, KAFKA_BOOTSTRAP_SERVERS (make bench-llm_provider); creates and
drops its own database. Last line: one JSON object.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# This script shares its name with the service package: drop its own directory from the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer
from llm_provider.callbacks import CallbackWriters
from llm_provider.clock import FakeClock, SystemClock
from llm_provider.comparison_caller import ComparisonCaller
from llm_provider.domain.circuit_breaker import CircuitBreakers
from llm_provider.domain.costs import ModelManifest
from llm_provider.domain.rate_limit import RateLimiter, TokenBucket
from llm_provider.handlers import event_handlers
from llm_provider.providers.anthropic_provider import AnthropicProvider
from llm_provider.providers.base import ComparisonCall, ProviderResponse
from llm_provider.providers.offline_provider import OfflineProvider
from llm_provider.queue import RequestQueue
from llm_provider.service import DEFINITION
from llm_provider.settings import LLMProviderSettings
from llm_provider.texts import ContentMissingError
from llm_provider.worker import ComparisonWorker, WorkerConfig

from common_core.events import REGISTRY
from common_core.events.llm import ComparisonPrompt, LLMComparisonRequest, LLMComparisonResult
from huleedu_service_libs.database import create_engine, create_session_factory
from huleedu_service_libs.idempotency import IdempotencyGuard
from huleedu_service_libs.kafka.consumer import ConsumerLoop
from huleedu_service_libs.kafka.producer import KafkaPublisher
from huleedu_service_libs.kafka.topics import TopicNamer, ensure_topics
from huleedu_service_libs.migrations import upgrade_to_head
from huleedu_service_libs.outbox import OutboxRelay
from huleedu_service_libs.testing.databases import create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "llm_provider" / "tests"))

from fake_llm_server import FakeLLMServer, rate_limited, success  # type: ignore[import-not-found]

THROUGHPUT_REQUESTS = 1000
CONCURRENCY = 8
LIMITED_REQUESTS = 1000
REQUESTS_PER_MINUTE = 50.0
INPUT_TOKENS_PER_MINUTE = 40_000.0
MODEL = "claude-haiku-4-5"
PROMPT = ComparisonPrompt(
    assignment="Describe a place you love.",
    criteria="Development, vocabulary, accuracy, structure.",
    instructions="Answer with the better essay.",
)


def sample_texts() -> dict[str, str]:
    words = " ".join(p.read_text() for p in sorted((ROOT / "sample" / "essays").glob("*.txt")))
    vocabulary = words.split() or ["essay"] * 2000
    texts = {}
    for number in range(20):
        start = (number * 53) % max(1, len(vocabulary) - 400)
        texts[f"{number:064x}"] = f"Essay {number}. " + " ".join(vocabulary[start : start + 190])
    return texts


class MemoryTexts:
    def __init__(self, texts: dict[str, str]) -> None:
        self._texts = texts

    async def text(self, content_id: str) -> str:
        if content_id not in self._texts:
            raise ContentMissingError(content_id)
        return self._texts[content_id]


def request_for(text_ids: list[str], number: int) -> LLMComparisonRequest:
    a, b = text_ids[number % len(text_ids)], text_ids[(number * 7 + 3) % len(text_ids)]
    if a == b:
        b = text_ids[(number + 1) % len(text_ids)]
    return LLMComparisonRequest(
        request_id=uuid.uuid4(),
        batch_id=uuid.UUID(int=number % 10 + 1),
        callback_topic=REGISTRY.spec_for_model(LLMComparisonResult).topic,
        essay_a_id=uuid.uuid4(),
        essay_a_text_id=a,
        essay_b_id=uuid.uuid4(),
        essay_b_text_id=b,
        prompt=PROMPT,
        deadline=datetime.now(UTC) + timedelta(hours=1),
    )


async def offline_throughput() -> float:
    run = uuid.uuid4().hex[:8]
    server = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    database_url = await create_database(server, f"bench_llm_{run}")
    settings = LLMProviderSettings(
        database_url=database_url,
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        kafka_topic_prefix=f"bench{run}.",
        redis_key_prefix=f"bench:{run}",
        log_level="WARNING",
    )
    await upgrade_to_head(database_url, DEFINITION.migrations_path)
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    redis = aioredis.from_url(settings.redis_url)
    namer = TopicNamer(settings.kafka_topic_prefix)
    request_topic = namer.topic(REGISTRY.spec_for_model(LLMComparisonRequest).topic)
    callback_topic = namer.topic(REGISTRY.spec_for_model(LLMComparisonResult).topic)
    await ensure_topics(settings.kafka_bootstrap_servers, [request_topic, callback_topic])
    texts = sample_texts()
    queue = RequestQueue(redis, key_prefix=settings.redis_key_prefix)
    callbacks = CallbackWriters(REGISTRY, namer, settings.service_name)
    clock = SystemClock()
    manifest = ModelManifest.load()
    breakers = CircuitBreakers(clock=clock)
    providers = {"offline": OfflineProvider()}
    worker = ComparisonWorker(
        sessions=sessions,
        callbacks=callbacks,
        queue=queue,
        caller=ComparisonCaller(
            providers=providers,
            manifest=manifest,
            limiter=RateLimiter(clock, manifest.rate_limits()),
            breakers=breakers,
            clock=clock,
        ),
        providers=providers,
        manifest=manifest,
        breakers=breakers,
        texts=MemoryTexts(texts),
        clock=clock,
        config=WorkerConfig(concurrency=CONCURRENCY, pop_timeout_s=0.2),
    )
    publisher = KafkaPublisher(settings, REGISTRY)
    await publisher.start()
    loop = ConsumerLoop(
        settings,
        consumer_name=f"llm_provider-bench-{run}",
        registry=REGISTRY,
        handlers=event_handlers(queue),
        sessions=sessions,
        outbox=callbacks.writer_for(callbacks.registered_topic),
        guard=IdempotencyGuard(redis, key_prefix=settings.redis_key_prefix),
        publisher=publisher,
        poll_timeout_ms=100,
    )
    reader = AIOKafkaConsumer(
        callback_topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(loop.run(stop)),
        asyncio.create_task(worker.run(stop)),
        asyncio.create_task(
            OutboxRelay(engine, publisher, service_name=settings.service_name).run(stop)
        ),
    ]
    await reader.start()
    try:
        ids = list(texts)
        requests = [request_for(ids, n) for n in range(THROUGHPUT_REQUESTS)]
        started = time.perf_counter()
        for request in requests:
            await publisher.publish(REGISTRY.envelope(request, source_service="cj_assessment"))
        answered: set[uuid.UUID] = set()
        async with asyncio.timeout(600):
            while len(answered) < THROUGHPUT_REQUESTS:
                for records in (await reader.getmany(timeout_ms=200)).values():
                    for record in records:
                        data = REGISTRY.decode(record.value).data
                        if isinstance(data, LLMComparisonResult):
                            answered.add(data.request_id)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
        await reader.stop()
        await publisher.stop()
        async for key in redis.scan_iter(match=f"{settings.redis_key_prefix}:*"):
            await redis.delete(key)
        await redis.aclose()
        await engine.dispose()
        await drop_database(server, f"bench_llm_{run}")
    rps = THROUGHPUT_REQUESTS / elapsed
    print(f"offline: {THROUGHPUT_REQUESTS} request events -> callbacks in {elapsed:.2f} s")
    return rps


class EnforcingAnthropic:
    """The real Anthropic provider, with the fake server made to enforce the provider's limits.

    Before each call it decides, on the fake clock, whether the provider's own buckets admit
    the call's input tokens; if not, it scripts a 429 for the server to answer, else a success
    billed at the tokens the prompt really has, with rate-limit headers as Anthropic sends them.
    """

    def __init__(self, server: FakeLLMServer, clock: FakeClock) -> None:
        self._server = server
        self._clock = clock
        self._inner = AnthropicProvider(api_key="bench", base_url=server.url, timeout_s=10)
        now = clock.monotonic()
        self._requests = TokenBucket(REQUESTS_PER_MINUTE, now=now)
        self._tokens = TokenBucket(INPUT_TOKENS_PER_MINUTE, now=now)
        self.provoked_429 = 0
        self.sent: list[tuple[float, int]] = []  # (fake time, input tokens billed)

    @property
    def name(self) -> str:
        return "anthropic"

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _headers(self) -> dict[str, str]:
        """Anthropic's headers: `reset` is when the bucket is full again, not a fixed window."""
        headers: dict[str, str] = {}
        for name, bucket, limit in (
            ("requests", self._requests, REQUESTS_PER_MINUTE),
            ("input-tokens", self._tokens, INPUT_TOKENS_PER_MINUTE),
        ):
            remaining = max(0.0, bucket.level)
            full_in_s = (limit - remaining) / (limit / 60.0)
            reset = datetime.fromtimestamp(self._clock.wall() + full_in_s, UTC).isoformat()
            headers[f"anthropic-ratelimit-{name}-limit"] = str(int(limit))
            headers[f"anthropic-ratelimit-{name}-remaining"] = str(int(remaining))
            headers[f"anthropic-ratelimit-{name}-reset"] = reset
        return headers

    async def compare(self, call: ComparisonCall) -> ProviderResponse:
        from llm_provider.domain.token_estimate import estimate_tokens
        from llm_provider.providers.judgement_format import essays_message, instruction_block

        billed = int(
            0.95
            * estimate_tokens(
                instruction_block(call.prompt)
                + essays_message(call.essay_a_text, call.essay_b_text)
            )
        )
        now = self._clock.monotonic()
        admitted = (
            self._requests.wait_for(1, now) <= 1e-9 and self._tokens.wait_for(billed, now) <= 1e-9
        )
        if admitted:
            self._requests.take(1)
            self._tokens.take(billed)
            self.sent.append((now, billed))
            self._server.script(success(input_tokens=billed, headers=self._headers()))
        else:
            self.provoked_429 += 1
            self._server.script(rate_limited(retry_after="1", headers=self._headers()))
        return await self._inner.compare(call)


async def limiter_accuracy() -> tuple[float, float, int]:
    clock = FakeClock(start=1_000.0, wall_start=time.time())
    server = FakeLLMServer()
    await server.start()
    manifest = ModelManifest.from_mapping(
        {
            "models": [
                {
                    "provider": "anthropic",
                    "model": MODEL,
                    "default": True,
                    "input_per_mtok": "1",
                    "output_per_mtok": "5",
                    "context_window": 200000,
                    "default_max_tokens": 256,
                    "rate_limits": {
                        "requests_per_minute": REQUESTS_PER_MINUTE,
                        "input_tokens_per_minute": INPUT_TOKENS_PER_MINUTE,
                    },
                }
            ]
        }
    )
    provider = EnforcingAnthropic(server, clock)
    caller = ComparisonCaller(
        providers={"anthropic": provider},
        manifest=manifest,
        limiter=RateLimiter(clock, manifest.rate_limits()),
        breakers=CircuitBreakers(clock=clock),
        clock=clock,
    )
    texts = sample_texts()
    ids = list(texts)
    try:
        for number in range(LIMITED_REQUESTS):
            request = request_for(ids, number)
            outcome = await caller.compare(
                "anthropic",
                ComparisonCall(
                    essay_a_text=texts[request.essay_a_text_id],
                    essay_b_text=texts[request.essay_b_text_id],
                    prompt=PROMPT,
                    model=MODEL,
                    max_tokens=256,
                    request_id=request.request_id,
                ),
            )
            if outcome.error is not None:
                raise RuntimeError(f"comparison failed: {outcome.error}")
    finally:
        await provider.aclose()
        await server.stop()
    first = provider.sent[0][0]
    steady = [(t, tokens) for t, tokens in provider.sent if t >= first + 60.0]
    span_min = (provider.sent[-1][0] - (first + 60.0)) / 60.0
    request_rate = (len(steady) - 1) / span_min
    token_rate = sum(tokens for _, tokens in steady[1:]) / span_min
    print(
        f"limiter: {len(provider.sent)} calls over {(provider.sent[-1][0] - first) / 60:.1f} fake"
        f" minutes; steady {request_rate:.2f} req/min, {token_rate:.0f} input tokens/min,"
        f" {provider.provoked_429} provoked 429s"
    )
    return (
        request_rate / REQUESTS_PER_MINUTE - 1.0,
        token_rate / INPUT_TOKENS_PER_MINUTE - 1.0,
        provider.provoked_429,
    )


async def main() -> dict[str, Any]:
    rps = await offline_throughput()
    request_error, token_error, provoked = await limiter_accuracy()
    return {
        "offline_rps": round(rps, 1),
        "request_rate_error": round(request_error, 4),
        "token_rate_error": round(token_error, 4),
        "provoked_429": provoked,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
