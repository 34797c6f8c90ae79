"""The one retry loop for provider calls (the SDKs' own retries are switched off).

Rules:
- retried: 429 rate limits, 529 overloaded, other 5xx, timeouts, connection errors, and an
  HTTP 200 whose body is not the wire format (a transient proxy/server fault);
- not retried: a 429/402 saying the spend limit or quota is exhausted (waiting does not refill
  an account), any other 4xx, and answers the model gave outside the required structure
  (refusal, truncation at max_tokens, invalid output): the same prompt gives the same answer
  and every attempt is billed;
- the wait honours `retry-after-ms`, then `retry-after` (seconds or an HTTP date); without
  them it is exponential backoff with full jitter, capped;
- a breaker that is open short-circuits the call; a wait that would pass the deadline ends it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

from common_core.errors import ErrorCode
from llm_provider.clock import Clock
from llm_provider.domain.circuit_breaker import CircuitBreaker
from llm_provider.domain.provider_errors import ProviderError, ProviderErrorKind

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_backoff_s: float = 60.0  # cap of the exponential backoff
    max_server_delay_s: float = 600.0  # a retry-after longer than this is not waited for

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_backoff_s < 0:
            raise ValueError("delays must not be negative")


@dataclass(frozen=True)
class ErrorClassification:
    retryable: bool
    error_code: ErrorCode
    counts_against_breaker: bool  # the provider itself failed (not our request, not a limit)


_CLASSIFICATION: Mapping[ProviderErrorKind, ErrorClassification] = {
    ProviderErrorKind.RATE_LIMITED: ErrorClassification(True, ErrorCode.LLM_RATE_LIMITED, False),
    ProviderErrorKind.QUOTA_EXHAUSTED: ErrorClassification(
        False, ErrorCode.LLM_PROVIDER_ERROR, False
    ),
    ProviderErrorKind.OVERLOADED: ErrorClassification(True, ErrorCode.LLM_PROVIDER_ERROR, True),
    ProviderErrorKind.SERVER_ERROR: ErrorClassification(True, ErrorCode.LLM_PROVIDER_ERROR, True),
    ProviderErrorKind.TIMEOUT: ErrorClassification(True, ErrorCode.TIMEOUT, True),
    ProviderErrorKind.CONNECTION: ErrorClassification(True, ErrorCode.LLM_PROVIDER_ERROR, True),
    ProviderErrorKind.MALFORMED_RESPONSE: ErrorClassification(
        True, ErrorCode.LLM_PROVIDER_ERROR, True
    ),
    ProviderErrorKind.AUTHENTICATION: ErrorClassification(
        False, ErrorCode.LLM_PROVIDER_ERROR, False
    ),
    ProviderErrorKind.CLIENT_ERROR: ErrorClassification(False, ErrorCode.LLM_PROVIDER_ERROR, False),
    ProviderErrorKind.INVALID_OUTPUT: ErrorClassification(
        False, ErrorCode.LLM_PROVIDER_ERROR, False
    ),
    ProviderErrorKind.REFUSAL: ErrorClassification(False, ErrorCode.LLM_PROVIDER_ERROR, False),
    ProviderErrorKind.TRUNCATED: ErrorClassification(False, ErrorCode.LLM_PROVIDER_ERROR, False),
    ProviderErrorKind.CIRCUIT_OPEN: ErrorClassification(
        False, ErrorCode.SERVICE_UNAVAILABLE, False
    ),
}


def classify(error: ProviderError) -> ErrorClassification:
    return _CLASSIFICATION[error.kind]


def server_retry_delay(headers: Mapping[str, str], *, now_wall: float) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, else `retry-after`, else None.

    `retry-after` may be delta-seconds or an HTTP date (RFC 9110); unparseable values are
    ignored so the caller falls back to backoff.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value_ms = float(raw_ms)
        except ValueError:
            value_ms = math.nan
        if math.isfinite(value_ms) and value_ms >= 0:
            return value_ms / 1000.0
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - now_wall)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))] after failed `attempt`."""
    ceiling = min(policy.max_backoff_s, policy.base_delay_s * 2.0 ** max(0, attempt - 1))
    return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class RetryEvent:
    """One decision to try again, for logs and the retries-by-reason metric."""

    attempt: int  # the attempt that failed (1-based)
    kind: ProviderErrorKind
    delay_s: float
    server_requested: bool  # the delay came from retry-after(-ms)


class CallFailedError(Exception):
    """The loop gave up. `error` is the last failure; `reason` says why the loop stopped."""

    def __init__(
        self,
        error: ProviderError,
        *,
        attempts: int,
        reason: str,
        error_code: ErrorCode,
    ) -> None:
        super().__init__(f"{error.provider}: {error.kind.value} after {attempts} attempt(s)")
        self.error = error
        self.attempts = attempts
        self.reason = reason  # not_retryable | attempts_exhausted | deadline | retry_after_too_long
        self.error_code = error_code


async def call_with_retries(
    attempt_call: Callable[[int], Awaitable[T]],
    *,
    provider: str,
    policy: RetryPolicy,
    clock: Clock,
    rng: random.Random,
    breaker: CircuitBreaker | None = None,
    deadline: float | None = None,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> T:
    """Run `attempt_call(attempt_number)` until it succeeds or a rule says stop.

    `deadline` is on the clock's monotonic scale. Raises CallFailedError; any exception that is not
    a ProviderError is a bug and propagates unchanged.
    """
    attempt = 0
    while True:
        attempt += 1
        if breaker is not None and not breaker.allow():
            error = ProviderError(
                ProviderErrorKind.CIRCUIT_OPEN,
                f"circuit open for {provider}; next probe in {breaker.retry_in():.1f}s",
                provider=provider,
            )
            raise CallFailedError(
                error,
                attempts=attempt - 1,
                reason="not_retryable",
                error_code=ErrorCode.SERVICE_UNAVAILABLE,
            )
        try:
            result = await attempt_call(attempt)
        except ProviderError as error:
            classification = classify(error)
            if breaker is not None:
                if classification.counts_against_breaker:
                    breaker.record_failure()
                else:
                    breaker.record_success()  # the provider answered; the fault is elsewhere
            if not classification.retryable:
                raise CallFailedError(
                    error,
                    attempts=attempt,
                    reason="not_retryable",
                    error_code=classification.error_code,
                ) from error
            if attempt >= policy.max_attempts:
                raise CallFailedError(
                    error,
                    attempts=attempt,
                    reason="attempts_exhausted",
                    error_code=classification.error_code,
                ) from error
            requested = server_retry_delay(error.headers, now_wall=clock.wall())
            if requested is not None and requested > policy.max_server_delay_s:
                raise CallFailedError(
                    error,
                    attempts=attempt,
                    reason="retry_after_too_long",
                    error_code=classification.error_code,
                ) from error
            delay = requested if requested is not None else backoff_delay(attempt, policy, rng)
            if deadline is not None and clock.monotonic() + delay > deadline:
                raise CallFailedError(
                    error,
                    attempts=attempt,
                    reason="deadline",
                    error_code=ErrorCode.DEADLINE_EXCEEDED,
                ) from error
            if on_retry is not None:
                on_retry(RetryEvent(attempt, error.kind, delay, requested is not None))
            await clock.sleep(delay)
        except BaseException:
            if breaker is not None:
                breaker.release_probe()
            raise
        else:
            if breaker is not None:
                breaker.record_success()
            return result
