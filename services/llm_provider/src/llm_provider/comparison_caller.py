"""One comparison through every guard: rate limiter, circuit breaker, retry loop, cost.

Per attempt: reserve limiter capacity (max_tokens of output), call the provider once, settle
the reservation with the billed usage, re-sync the limiter from the response headers (a 429's
retry-after also pauses the whole provider/model key). The retry loop decides whether to try
again; the outcome carries the verdict or the error, the attempts, waits and the total cost of
every billed attempt.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from common_core.errors import ErrorCode, ErrorDetail
from common_core.events.llm import LLMComparisonRequest, LLMComparisonResult
from llm_provider.clock import Clock
from llm_provider.domain.circuit_breaker import CircuitBreakers
from llm_provider.domain.costs import ModelManifest, call_cost
from llm_provider.domain.provider_errors import ProviderError, ProviderErrorKind, TokenUsage
from llm_provider.domain.rate_limit import RateLimitDeadlineError, RateLimiter
from llm_provider.domain.retry import (
    CallFailedError,
    RetryEvent,
    RetryPolicy,
    call_with_retries,
    server_retry_delay,
)
from llm_provider.domain.token_estimate import estimate_tokens
from llm_provider.providers.base import ComparisonCall, Provider, ProviderResponse
from llm_provider.providers.judgement_format import essays_message, instruction_block

SERVICE_NAME = "llm_provider"


@dataclass(frozen=True)
class CallError:
    code: ErrorCode
    kind: str  # a ProviderErrorKind value, or "rate_limit_deadline"
    message: str
    reason: str  # why the loop stopped: not_retryable, attempts_exhausted, deadline, ...
    status_code: int | None = None


@dataclass(frozen=True)
class ComparisonOutcome:
    provider: str
    model: str
    response: ProviderResponse | None
    error: CallError | None
    attempts: int
    retries: tuple[RetryEvent, ...]
    rate_limit_wait_s: float
    latency_ms: float  # time inside provider calls, all attempts
    usage: TokenUsage  # billed over all attempts
    cost_usd: Decimal

    def error_detail(self, *, correlation_id: UUID | None = None) -> ErrorDetail | None:
        if self.error is None:
            return None
        return ErrorDetail(
            code=self.error.code,
            message=self.error.message,
            service=SERVICE_NAME,
            operation=f"compare:{self.provider}",
            correlation_id=correlation_id,
            details={
                "kind": self.error.kind,
                "reason": self.error.reason,
                "status_code": self.error.status_code,
                "attempts": self.attempts,
                "model": self.model,
            },
        )

    def to_result(
        self, request: LLMComparisonRequest, *, correlation_id: UUID | None = None
    ) -> LLMComparisonResult:
        """The callback payload: a verdict or an error, never both."""
        response = self.response
        return LLMComparisonResult(
            request_id=request.request_id,
            batch_id=request.batch_id,
            essay_a_id=request.essay_a_id,
            essay_b_id=request.essay_b_id,
            winner=response.winner if response else None,
            justification=response.justification if response else None,
            confidence=response.confidence if response else None,
            error=self.error_detail(correlation_id=correlation_id),
            provider=self.provider,
            model=response.model if response else self.model,
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            cached_tokens=self.usage.cached_tokens,
            cost_usd=self.cost_usd,
            latency_ms=self.latency_ms,
        )


class ComparisonCaller:
    def __init__(
        self,
        *,
        providers: Mapping[str, Provider],
        manifest: ModelManifest,
        limiter: RateLimiter,
        breakers: CircuitBreakers,
        clock: Clock,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._providers = dict(providers)
        self._manifest = manifest
        self._limiter = limiter
        self._breakers = breakers
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()

    async def compare(
        self, provider_name: str, call: ComparisonCall, *, deadline: float | None = None
    ) -> ComparisonOutcome:
        """Judge one pair. `deadline` is on the clock's monotonic scale. Never raises for
        provider failures: they come back as the outcome's error."""
        spec = self._manifest.get(provider_name, call.model)
        provider = self._providers[provider_name]
        key = spec.key
        estimate = estimate_tokens(
            instruction_block(call.prompt) + essays_message(call.essay_a_text, call.essay_b_text)
        )
        retries: list[RetryEvent] = []
        billed = TokenUsage()
        waited = 0.0
        busy = 0.0
        attempts_started = 0

        async def attempt(_number: int) -> ProviderResponse:
            nonlocal billed, waited, busy, attempts_started
            reservation, wait = await self._limiter.acquire(
                key, input_tokens=estimate, max_output_tokens=call.max_tokens, deadline=deadline
            )
            waited += wait
            attempts_started += 1
            started = self._clock.monotonic()
            try:
                response = await provider.compare(call)
            except ProviderError as error:
                used = error.usage or TokenUsage()
                billed += used
                self._limiter.settle(
                    reservation,
                    input_tokens=used.rate_limited_input_tokens,
                    output_tokens=used.output_tokens,
                )
                if error.headers:
                    self._limiter.sync_from_headers(key, error.headers)
                if error.kind is ProviderErrorKind.RATE_LIMITED:
                    pause = server_retry_delay(error.headers, now_wall=self._clock.wall())
                    if pause is not None:
                        self._limiter.pause(key, pause)
                raise
            except BaseException:
                self._limiter.settle(reservation, input_tokens=0, output_tokens=0)
                raise
            finally:
                busy += self._clock.monotonic() - started
            billed += response.usage
            self._limiter.settle(
                reservation,
                input_tokens=response.usage.rate_limited_input_tokens,
                output_tokens=response.output_tokens,
            )
            self._limiter.sync_from_headers(key, response.headers)
            return response

        response: ProviderResponse | None = None
        error: CallError | None = None
        try:
            response = await call_with_retries(
                attempt,
                provider=provider_name,
                policy=self._policy,
                clock=self._clock,
                rng=self._rng,
                breaker=self._breakers.for_provider(provider_name),
                deadline=deadline,
                on_retry=retries.append,
            )
        except CallFailedError as failed:
            error = CallError(
                code=failed.error_code,
                kind=failed.error.kind.value,
                message=failed.error.message,
                reason=failed.reason,
                status_code=failed.error.status_code,
            )
        except RateLimitDeadlineError as late:
            error = CallError(
                code=ErrorCode.DEADLINE_EXCEEDED,
                kind="rate_limit_deadline",
                message=str(late),
                reason="deadline",
            )
        return ComparisonOutcome(
            provider=provider_name,
            model=spec.model,
            response=response,
            error=error,
            attempts=attempts_started,
            retries=tuple(retries),
            rate_limit_wait_s=waited,
            latency_ms=busy * 1000.0,
            usage=billed,
            cost_usd=call_cost(spec, billed),
        )
