"""The real Anthropic and OpenAI SDK clients, through the provider classes, retry loop,
breaker and limiter, against the local fake server; waits run on a FakeClock."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from fake_llm_server import (  # type: ignore[import-not-found]
    FakeLLMServer,
    hang,
    invalid_output,
    malformed_body,
    overloaded,
    rate_limited,
    refusal,
    server_error,
    spend_limit,
    success,
    truncated,
)
from llm_provider.clock import FakeClock
from llm_provider.comparison_caller import ComparisonCaller, ComparisonOutcome
from llm_provider.domain.circuit_breaker import BreakerState, CircuitBreakers
from llm_provider.domain.costs import ModelManifest, call_cost
from llm_provider.domain.provider_errors import ProviderErrorKind, TokenUsage
from llm_provider.domain.rate_limit import RateLimiter
from llm_provider.domain.retry import RetryPolicy
from llm_provider.providers.anthropic_provider import AnthropicProvider
from llm_provider.providers.base import ComparisonCall, Provider
from llm_provider.providers.openai_provider import OpenAIProvider

from common_core.errors import ErrorCode
from common_core.events.llm import (
    ComparisonPrompt,
    ComparisonWinner,
    LLMComparisonRequest,
)

CLIENT_TIMEOUT_S = 0.5
PROMPT = ComparisonPrompt(
    assignment="Should schools ban phones?",
    criteria="Argument quality, evidence, organisation, accuracy of language.",
    instructions="Compare the two essays.",
)


@dataclass
class Wire:
    name: str
    provider: Provider
    server: FakeLLMServer
    model: str
    manifest: ModelManifest
    clock: FakeClock
    limiter: RateLimiter
    breakers: CircuitBreakers

    def caller(self, policy: RetryPolicy | None = None) -> ComparisonCaller:
        return ComparisonCaller(
            providers={self.name: self.provider},
            manifest=self.manifest,
            limiter=self.limiter,
            breakers=self.breakers,
            clock=self.clock,
            policy=policy or RetryPolicy(max_attempts=4, base_delay_s=1.0, max_backoff_s=8.0),
            rng=random.Random(0),
        )

    def call(self, max_tokens: int = 300) -> ComparisonCall:
        return ComparisonCall(
            essay_a_text="Phones distract pupils; evidence from three studies shows...",
            essay_b_text="Phones is good becuase pupils can look things up.",
            prompt=PROMPT,
            model=self.model,
            max_tokens=max_tokens,
            request_id=uuid4(),
        )

    async def compare(self, policy: RetryPolicy | None = None) -> ComparisonOutcome:
        return await self.caller(policy).compare(self.name, self.call())

    def rate_limit_headers(
        self, *, remaining_requests: int, remaining_tokens: int
    ) -> dict[str, str]:
        if self.name == "anthropic":
            reset = datetime.fromtimestamp(self.clock.wall(), tz=UTC) + timedelta(seconds=20)
            stamp = reset.isoformat().replace("+00:00", "Z")
            return {
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": str(remaining_requests),
                "anthropic-ratelimit-requests-reset": stamp,
                "anthropic-ratelimit-input-tokens-limit": "50000",
                "anthropic-ratelimit-input-tokens-remaining": str(remaining_tokens),
                "anthropic-ratelimit-input-tokens-reset": stamp,
                "anthropic-ratelimit-output-tokens-limit": "10000",
                "anthropic-ratelimit-output-tokens-remaining": "9000",
                "anthropic-ratelimit-output-tokens-reset": stamp,
            }
        return {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": str(remaining_requests),
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "200000",
            "x-ratelimit-remaining-tokens": str(remaining_tokens),
            "x-ratelimit-reset-tokens": "6m0s",
        }


@pytest.fixture(params=["anthropic", "openai"])
async def wire(
    request: pytest.FixtureRequest, fake_llm_server: FakeLLMServer
) -> AsyncIterator[Wire]:
    provider: Provider
    if request.param == "anthropic":
        provider = AnthropicProvider(
            api_key="test-key", base_url=fake_llm_server.url, timeout_s=CLIENT_TIMEOUT_S
        )
    else:
        provider = OpenAIProvider(
            api_key="test-key", base_url=fake_llm_server.openai_url, timeout_s=CLIENT_TIMEOUT_S
        )
    manifest = ModelManifest.load()
    clock = FakeClock()
    yield Wire(
        name=request.param,
        provider=provider,
        server=fake_llm_server,
        model=manifest.default_for(request.param).model,
        manifest=manifest,
        clock=clock,
        limiter=RateLimiter(clock, manifest.rate_limits()),
        breakers=CircuitBreakers(clock=clock, failure_threshold=3, cool_down_s=30),
    )
    await provider.aclose()


async def test_success_reads_verdict_usage_cached_tokens_and_costs_it(wire: Wire) -> None:
    wire.server.script(
        success(
            winner="Essay B",
            confidence=5,
            input_tokens=1500,
            output_tokens=70,
            cached_tokens=1200,
            headers=wire.rate_limit_headers(remaining_requests=7, remaining_tokens=20000),
        )
    )
    outcome = await wire.compare()
    assert outcome.error is None
    assert outcome.response is not None
    assert outcome.response.winner is ComparisonWinner.ESSAY_B
    assert outcome.response.confidence == 5
    assert outcome.usage == TokenUsage(input_tokens=1500, output_tokens=70, cached_tokens=1200)
    spec = wire.manifest.get(wire.name, wire.model)
    assert outcome.cost_usd == call_cost(spec, outcome.usage) > 0
    assert outcome.attempts == 1
    assert len(wire.server.requests) == 1
    assert wire.clock.sleeps == []


async def test_headers_resync_the_limiter(wire: Wire) -> None:
    wire.server.script(
        success(headers=wire.rate_limit_headers(remaining_requests=7, remaining_tokens=20000))
    )
    await wire.compare()
    levels = wire.limiter.levels((wire.name, wire.model))
    assert levels["requests"] == pytest.approx(7)
    assert levels["input_tokens"] == pytest.approx(20000)


async def test_headers_on_a_429_resync_the_limiter_too(wire: Wire) -> None:
    headers = wire.rate_limit_headers(remaining_requests=0, remaining_tokens=0)
    wire.server.script(rate_limited(retry_after="1", headers=headers))
    outcome = await wire.compare(RetryPolicy(max_attempts=1))
    assert outcome.error is not None
    assert outcome.error.code is ErrorCode.LLM_RATE_LIMITED
    levels = wire.limiter.levels((wire.name, wire.model))
    assert levels["requests"] == pytest.approx(0)
    assert levels["input_tokens"] == pytest.approx(0)


async def test_the_request_asks_for_structured_output(wire: Wire) -> None:
    await wire.compare()
    body = wire.server.requests[0].body
    assert body["model"] == wire.model
    if wire.name == "anthropic":
        assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert "Should schools ban phones?" in body["system"][0]["text"]
        assert body["tool_choice"]["type"] == "tool"
        assert body["tool_choice"]["name"] == body["tools"][0]["name"]
        schema = body["tools"][0]["input_schema"]
        assert body["max_tokens"] == 300
    else:
        assert body["messages"][0]["role"] == "system"
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["strict"] is True
        schema = body["response_format"]["json_schema"]["schema"]
        assert body["max_completion_tokens"] == 300
    assert schema["properties"]["winner"]["enum"] == ["Essay A", "Essay B"]
    assert set(schema["required"]) == {"winner", "justification", "confidence"}


async def test_429_with_retry_after_waits_as_told_then_succeeds(wire: Wire) -> None:
    wire.server.script(rate_limited(retry_after="3"), success())
    outcome = await wire.compare()
    assert outcome.response is not None
    assert outcome.attempts == 2
    assert len(wire.server.requests) == 2
    assert [event.kind for event in outcome.retries] == [ProviderErrorKind.RATE_LIMITED]
    assert wire.clock.sleeps == [3.0]


async def test_429_with_retry_after_ms_waits_as_told(wire: Wire) -> None:
    wire.server.script(rate_limited(retry_after_ms="250", retry_after="9"), success())
    outcome = await wire.compare()
    assert outcome.response is not None
    assert wire.clock.sleeps == [0.25]


async def test_a_429_pauses_the_whole_model_key(wire: Wire) -> None:
    wire.server.script(rate_limited(retry_after="5"))
    first = await wire.compare(RetryPolicy(max_attempts=1))
    assert first.error is not None
    assert first.error.code is ErrorCode.LLM_RATE_LIMITED
    second = await wire.compare()
    assert second.response is not None
    assert second.rate_limit_wait_s == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("step", "kind"),
    [
        (overloaded(), None),  # 529 for Anthropic, 503 for OpenAI
        (server_error(), ProviderErrorKind.SERVER_ERROR),
        (hang(), ProviderErrorKind.TIMEOUT),
        (malformed_body(), ProviderErrorKind.MALFORMED_RESPONSE),
    ],
    ids=["overloaded", "500", "timeout", "malformed-json"],
)
async def test_transient_failures_are_retried_with_backoff(
    wire: Wire, step: object, kind: ProviderErrorKind | None
) -> None:
    wire.server.script(step, step, success())
    outcome = await wire.compare()
    assert outcome.response is not None
    assert outcome.attempts == 3
    assert len(wire.server.requests) == 3
    expected = kind or (
        ProviderErrorKind.OVERLOADED if wire.name == "anthropic" else ProviderErrorKind.SERVER_ERROR
    )
    assert [event.kind for event in outcome.retries] == [expected, expected]
    assert len(wire.clock.sleeps) == 2
    assert 0 <= wire.clock.sleeps[0] <= 1.0
    assert 0 <= wire.clock.sleeps[1] <= 2.0


@pytest.mark.parametrize(
    ("step", "kind", "billed"),
    [
        (refusal(), ProviderErrorKind.REFUSAL, True),
        (truncated(), ProviderErrorKind.TRUNCATED, True),
        (invalid_output(), ProviderErrorKind.INVALID_OUTPUT, True),
        (spend_limit(), ProviderErrorKind.QUOTA_EXHAUSTED, False),
    ],
    ids=["refusal", "max-tokens", "no-structured-verdict", "spend-limit"],
)
async def test_permanent_failures_are_not_retried(
    wire: Wire, step: object, kind: ProviderErrorKind, billed: bool
) -> None:
    wire.server.script(step, success())
    outcome = await wire.compare()
    assert outcome.response is None
    assert outcome.error is not None
    assert outcome.error.kind == kind.value
    assert outcome.error.code is ErrorCode.LLM_PROVIDER_ERROR
    assert outcome.error.reason == "not_retryable"
    assert outcome.attempts == 1
    assert len(wire.server.requests) == 1
    assert wire.clock.sleeps == []
    assert (outcome.cost_usd > 0) is billed  # a refused or truncated answer is still paid for


async def test_retries_stop_at_the_policy_limit(wire: Wire) -> None:
    wire.server.script(*[server_error() for _ in range(5)])
    outcome = await wire.compare(RetryPolicy(max_attempts=2))
    assert outcome.error is not None
    assert outcome.error.reason == "attempts_exhausted"
    assert outcome.error.status_code == 500
    assert len(wire.server.requests) == 2  # the SDK did not retry on its own


async def test_the_breaker_opens_then_short_circuits_then_probes(wire: Wire) -> None:
    wire.server.script(*[server_error() for _ in range(3)])
    failed = await wire.compare(RetryPolicy(max_attempts=5))
    assert failed.attempts == 3  # opened after the third consecutive failure
    assert wire.breakers.for_provider(wire.name).state is BreakerState.OPEN

    short = await wire.compare()
    assert short.error is not None
    assert short.error.kind == "circuit_open"
    assert short.error.code is ErrorCode.SERVICE_UNAVAILABLE
    assert short.attempts == 0
    assert len(wire.server.requests) == 3

    wire.clock.advance(30)
    probe = await wire.compare()
    assert probe.response is not None
    assert wire.breakers.for_provider(wire.name).state is BreakerState.CLOSED


async def test_outcomes_become_one_callback_payload(wire: Wire) -> None:
    request = LLMComparisonRequest(
        request_id=uuid4(),
        batch_id=uuid4(),
        callback_topic="huleedu.llm.comparison.completed.v1",
        essay_a_id=uuid4(),
        essay_a_text_id="a" * 64,
        essay_b_id=uuid4(),
        essay_b_text_id="b" * 64,
        prompt=PROMPT,
        deadline=datetime.now(UTC) + timedelta(minutes=5),
    )
    wire.server.script(success(cached_tokens=100), refusal())
    verdict = (await wire.compare()).to_result(request)
    assert verdict.winner is ComparisonWinner.ESSAY_A
    assert verdict.error is None
    assert verdict.cached_tokens == 100
    assert verdict.cost_usd > 0
    failure = (await wire.compare()).to_result(request)
    assert failure.winner is None
    assert failure.error is not None
    assert failure.error.code is ErrorCode.LLM_PROVIDER_ERROR
    assert failure.error.details["kind"] == "refusal"
    assert failure.provider == wire.name
    assert failure.model == wire.model
