from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from llm_provider.clock import FakeClock
from llm_provider.domain.circuit_breaker import CircuitBreaker
from llm_provider.domain.provider_errors import (
    ProviderError,
    ProviderErrorKind,
    is_spend_limit_exhausted,
    kind_from_status,
)
from llm_provider.domain.retry import (
    CallFailedError,
    RetryEvent,
    RetryPolicy,
    backoff_delay,
    call_with_retries,
    classify,
    server_retry_delay,
)

from common_core.errors import ErrorCode


def _error(kind: ProviderErrorKind, **headers: str) -> ProviderError:
    return ProviderError(kind, kind.value, provider="p", headers=headers)


class Script:
    """An attempt function that raises the scripted errors, then returns "ok"."""

    def __init__(self, *errors: ProviderError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, attempt: int) -> str:
        self.calls += 1
        assert attempt == self.calls
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def _run(
    script: Script, clock: FakeClock, policy: RetryPolicy | None = None, **kwargs: object
) -> tuple[str, list[RetryEvent]]:
    events: list[RetryEvent] = []
    result = await call_with_retries(
        script,
        provider="p",
        policy=policy or RetryPolicy(),
        clock=clock,
        rng=random.Random(0),
        on_retry=events.append,
        **kwargs,  # type: ignore[arg-type]
    )
    return result, events


async def test_retry_after_ms_wins_over_retry_after() -> None:
    clock = FakeClock()
    script = Script(
        _error(ProviderErrorKind.RATE_LIMITED, **{"retry-after-ms": "1500", "retry-after": "9"})
    )
    result, events = await _run(script, clock)
    assert result == "ok"
    assert clock.sleeps == [1.5]
    assert events[0].server_requested


async def test_retry_after_seconds_is_honoured() -> None:
    clock = FakeClock()
    script = Script(_error(ProviderErrorKind.RATE_LIMITED, **{"retry-after": "7"}))
    await _run(script, clock)
    assert clock.sleeps == [7.0]
    assert script.calls == 2


async def test_retry_after_http_date_is_honoured() -> None:
    clock = FakeClock()
    when = format_datetime(datetime.fromtimestamp(clock.wall() + 12, tz=UTC), usegmt=True)
    script = Script(_error(ProviderErrorKind.OVERLOADED, **{"retry-after": when}))
    await _run(script, clock)
    assert clock.sleeps == [pytest.approx(12.0)]


def test_unparseable_retry_after_falls_back_to_backoff() -> None:
    assert server_retry_delay({"retry-after": "tomorrow-ish"}, now_wall=0.0) is None
    assert server_retry_delay({"Retry-After-Ms": "-5", "retry-after": "2"}, now_wall=0.0) == 2.0


async def test_without_retry_after_backoff_is_full_jitter_exponential_and_capped() -> None:
    policy = RetryPolicy(max_attempts=8, base_delay_s=1.0, max_backoff_s=10.0)
    clock = FakeClock()
    script = Script(*[_error(ProviderErrorKind.SERVER_ERROR) for _ in range(7)])
    await _run(script, clock, policy)
    ceilings = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert len(clock.sleeps) == 7
    for slept, ceiling in zip(clock.sleeps, ceilings, strict=True):
        assert 0.0 <= slept <= ceiling
    # same seed, same jitter: the waits are exactly the rng's draws within each ceiling
    rng = random.Random(0)
    assert clock.sleeps == [rng.uniform(0.0, c) for c in ceilings]


def test_full_jitter_spreads_over_the_whole_interval() -> None:
    rng = random.Random(42)
    policy = RetryPolicy(base_delay_s=1.0, max_backoff_s=60.0)
    draws = [backoff_delay(4, policy, rng) for _ in range(2000)]
    assert min(draws) < 0.5
    assert max(draws) > 7.5
    assert max(draws) <= 8.0


@pytest.mark.parametrize(
    "kind",
    [
        ProviderErrorKind.RATE_LIMITED,
        ProviderErrorKind.OVERLOADED,
        ProviderErrorKind.SERVER_ERROR,
        ProviderErrorKind.TIMEOUT,
        ProviderErrorKind.CONNECTION,
        ProviderErrorKind.MALFORMED_RESPONSE,
    ],
)
async def test_transient_failures_are_retried(kind: ProviderErrorKind) -> None:
    clock = FakeClock()
    script = Script(_error(kind), _error(kind))
    result, events = await _run(script, clock)
    assert result == "ok"
    assert script.calls == 3
    assert [event.kind for event in events] == [kind, kind]


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (ProviderErrorKind.QUOTA_EXHAUSTED, ErrorCode.LLM_PROVIDER_ERROR),
        (ProviderErrorKind.CLIENT_ERROR, ErrorCode.LLM_PROVIDER_ERROR),
        (ProviderErrorKind.AUTHENTICATION, ErrorCode.LLM_PROVIDER_ERROR),
        (ProviderErrorKind.REFUSAL, ErrorCode.LLM_PROVIDER_ERROR),
        (ProviderErrorKind.TRUNCATED, ErrorCode.LLM_PROVIDER_ERROR),
        (ProviderErrorKind.INVALID_OUTPUT, ErrorCode.LLM_PROVIDER_ERROR),
    ],
)
async def test_permanent_failures_are_not_retried(kind: ProviderErrorKind, code: ErrorCode) -> None:
    clock = FakeClock()
    script = Script(_error(kind, **{"retry-after": "1"}))
    with pytest.raises(CallFailedError) as failed:
        await _run(script, clock)
    assert script.calls == 1
    assert failed.value.reason == "not_retryable"
    assert failed.value.error_code is code
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (ProviderErrorKind.RATE_LIMITED, ErrorCode.LLM_RATE_LIMITED),
        (ProviderErrorKind.TIMEOUT, ErrorCode.TIMEOUT),
        (ProviderErrorKind.OVERLOADED, ErrorCode.LLM_PROVIDER_ERROR),
    ],
)
async def test_attempts_are_capped_and_the_last_error_is_classified(
    kind: ProviderErrorKind, code: ErrorCode
) -> None:
    clock = FakeClock()
    script = Script(*[_error(kind) for _ in range(10)])
    with pytest.raises(CallFailedError) as failed:
        await _run(script, clock, RetryPolicy(max_attempts=3))
    assert script.calls == 3
    assert failed.value.attempts == 3
    assert failed.value.reason == "attempts_exhausted"
    assert failed.value.error_code is code


async def test_a_wait_past_the_deadline_ends_the_loop() -> None:
    clock = FakeClock()
    script = Script(_error(ProviderErrorKind.RATE_LIMITED, **{"retry-after": "30"}))
    with pytest.raises(CallFailedError) as failed:
        await _run(script, clock, deadline=clock.monotonic() + 10)
    assert failed.value.reason == "deadline"
    assert failed.value.error_code is ErrorCode.DEADLINE_EXCEEDED
    assert clock.sleeps == []


async def test_a_retry_after_beyond_the_policy_limit_is_not_waited_for() -> None:
    clock = FakeClock()
    script = Script(_error(ProviderErrorKind.RATE_LIMITED, **{"retry-after": "3600"}))
    with pytest.raises(CallFailedError) as failed:
        await _run(script, clock, RetryPolicy(max_server_delay_s=600))
    assert failed.value.reason == "retry_after_too_long"
    assert clock.sleeps == []


async def test_other_exceptions_propagate_unchanged() -> None:
    async def broken(_attempt: int) -> str:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await call_with_retries(
            broken, provider="p", policy=RetryPolicy(), clock=FakeClock(), rng=random.Random(0)
        )


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
         ProviderErrorKind.RATE_LIMITED),
        (429, {"message": "Rate limit reached for gpt-4.1 on tokens per min (TPM): Limit 30000",
               "type": "tokens", "code": "rate_limit_exceeded"}, ProviderErrorKind.RATE_LIMITED),
        (429, {"message": "You exceeded your current quota", "type": "insufficient_quota",
               "code": "insufficient_quota"}, ProviderErrorKind.QUOTA_EXHAUSTED),
        (429, {"type": "error", "error": {"type": "rate_limit_error",
               "message": "You have reached your specified API usage limits."}},
         ProviderErrorKind.QUOTA_EXHAUSTED),
        (400, {"type": "error", "error": {"type": "invalid_request_error",
               "message": "Your credit balance is too low"}}, ProviderErrorKind.CLIENT_ERROR),
        (402, {"type": "error", "error": {"type": "billing_error", "message": "pay"}},
         ProviderErrorKind.QUOTA_EXHAUSTED),
        (529, None, ProviderErrorKind.OVERLOADED),
        (500, None, ProviderErrorKind.SERVER_ERROR),
        (503, None, ProviderErrorKind.SERVER_ERROR),
        (408, None, ProviderErrorKind.TIMEOUT),
        (401, None, ProviderErrorKind.AUTHENTICATION),
        (404, None, ProviderErrorKind.CLIENT_ERROR),
        (422, None, ProviderErrorKind.CLIENT_ERROR),
    ],
)  # fmt: skip
def test_status_and_body_map_to_a_kind(status: int, body: object, kind: ProviderErrorKind) -> None:
    assert kind_from_status(status, body) is kind


def test_spend_limit_detection_ignores_plain_rate_limits() -> None:
    assert not is_spend_limit_exhausted({"error": {"message": "rate limit exceeded"}})
    assert not is_spend_limit_exhausted("not a dict")
    assert is_spend_limit_exhausted({"error": {"code": "insufficient_quota"}})


def test_every_kind_is_classified() -> None:
    for kind in ProviderErrorKind:
        assert classify(_error(kind)).error_code in ErrorCode


async def test_breaker_counts_provider_failures_but_not_rate_limits() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock, failure_threshold=2, cool_down_s=30)
    script = Script(*[_error(ProviderErrorKind.RATE_LIMITED) for _ in range(4)])
    await _run(script, clock, RetryPolicy(max_attempts=5), breaker=breaker)
    assert breaker.consecutive_failures == 0

    script = Script(*[_error(ProviderErrorKind.SERVER_ERROR) for _ in range(5)])
    with pytest.raises(CallFailedError):
        await _run(script, clock, RetryPolicy(max_attempts=5), breaker=breaker)
    assert script.calls == 2  # the breaker opened after the second failure


async def test_an_open_breaker_short_circuits_without_calling() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock, failure_threshold=1, cool_down_s=30)
    breaker.record_failure()
    script = Script()
    with pytest.raises(CallFailedError) as failed:
        await _run(script, clock, breaker=breaker)
    assert script.calls == 0
    assert failed.value.error.kind is ProviderErrorKind.CIRCUIT_OPEN
    assert failed.value.error_code is ErrorCode.SERVICE_UNAVAILABLE
