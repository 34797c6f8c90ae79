from __future__ import annotations

import random
from uuid import UUID, uuid4

import pytest
from llm_provider.clock import FakeClock
from llm_provider.comparison_caller import ComparisonCaller
from llm_provider.domain.circuit_breaker import CircuitBreakers
from llm_provider.domain.costs import ModelManifest
from llm_provider.domain.offline_judge import OfflineJudge, latent_quality
from llm_provider.domain.rate_limit import RateLimiter, RateLimits
from llm_provider.domain.token_estimate import estimate_tokens
from llm_provider.providers.base import ComparisonCall
from llm_provider.providers.offline_provider import OfflineProvider

from common_core.errors import ErrorCode
from common_core.events.llm import ComparisonPrompt, ComparisonWinner

PROMPT = ComparisonPrompt(assignment="Write about a hobby.", criteria="Quality.", instructions="-")
GOOD = (
    "Climbing has taught me patience. Each route is a puzzle: I study the holds, plan my moves "
    "and, when I fall, I learn something about balance. Furthermore, the climbing community is "
    "generous; strangers lend equipment and share advice. Therefore, the sport has shaped both "
    "my body and my character."
)
POOR = "climbing is fun. i like climbing. it is fun becuase it is fun. i like it alot."
MODEL = "offline-judge-v1"


def _call(
    a: str = GOOD,
    b: str = POOR,
    *,
    request_id: UUID | None = None,
    essay_a_id: UUID | None = None,
    essay_b_id: UUID | None = None,
) -> ComparisonCall:
    return ComparisonCall(
        essay_a_text=a,
        essay_b_text=b,
        prompt=PROMPT,
        model=MODEL,
        max_tokens=256,
        request_id=request_id,
        essay_a_id=essay_a_id,
        essay_b_id=essay_b_id,
    )


def _caller(clock: FakeClock, limiter: RateLimiter | None = None) -> ComparisonCaller:
    manifest = ModelManifest.load()
    return ComparisonCaller(
        providers={"offline": OfflineProvider(OfflineJudge(seed=11))},
        manifest=manifest,
        limiter=limiter or RateLimiter(clock, manifest.rate_limits()),
        breakers=CircuitBreakers(clock=clock),
        clock=clock,
        rng=random.Random(0),
    )


async def test_offline_judgements_are_deterministic_per_request() -> None:
    call = _call(request_id=uuid4(), essay_a_id=uuid4(), essay_b_id=uuid4())
    first = await OfflineProvider(OfflineJudge(seed=5)).compare(call)
    second = await OfflineProvider(OfflineJudge(seed=5)).compare(call)
    assert first == second


async def test_offline_judge_prefers_the_better_essay_and_estimates_tokens() -> None:
    response = await OfflineProvider(OfflineJudge(seed=0)).compare(_call(request_id=uuid4()))
    assert latent_quality(GOOD) > latent_quality(POOR)
    assert response.winner is ComparisonWinner.ESSAY_A
    assert response.input_tokens > estimate_tokens(GOOD + POOR)  # the prompt is counted too
    assert 0 < response.output_tokens <= 256
    assert response.cached_tokens == 0


async def test_offline_calls_through_the_caller_cost_nothing() -> None:
    clock = FakeClock()
    outcome = await _caller(clock).compare("offline", _call(request_id=uuid4()))
    assert outcome.response is not None
    assert outcome.error is None
    assert outcome.cost_usd == 0
    assert outcome.usage.input_tokens == outcome.response.input_tokens
    assert clock.sleeps == []


async def test_the_limiter_spaces_calls_at_the_configured_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, {("offline", MODEL): RateLimits(requests_per_minute=6)})
    caller = _caller(clock, limiter)
    waits = [
        (await caller.compare("offline", _call(request_id=uuid4()))).rate_limit_wait_s
        for _ in range(20)
    ]
    assert waits[:6] == [0.0] * 6
    assert waits[6:] == pytest.approx([10.0] * 14)  # one request per 10 s after the burst


async def test_a_rate_limit_wait_past_the_deadline_is_an_error_not_a_hang() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, {("offline", MODEL): RateLimits(requests_per_minute=1)})
    caller = _caller(clock, limiter)
    await caller.compare("offline", _call())
    late = await caller.compare("offline", _call(), deadline=clock.monotonic() + 5)
    assert late.error is not None
    assert late.error.code is ErrorCode.DEADLINE_EXCEEDED
    assert late.attempts == 0
    assert late.response is None
